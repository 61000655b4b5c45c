# <think_i> tokens trained by RL on 4-hop lookups (data/hops, n=8, k=4), from a direct model
# that plateaus (docs/think_rl.md has the gate, the arms and the commands):
#   python data/hops/prepare.py --n=8 --k=4 --out_dir=data/hops_k4
#   mkdir -p data/hops_k4_think && cp data/hops_k4/*.jsonl data/hops_k4/meta.pkl data/hops_k4_think/
#   python vocab.py add_tokens data/hops_k4_think --n_think=8
#   OMP_NUM_THREADS=1 python train.py config/hops.py --dataset=hops_k4 --n_embd=64 --max_iters=30000 \
#       --lr_decay_iters=30000 --seed=1 --out_dir=out-k4-direct-s1                # the direct model
#   OMP_NUM_THREADS=1 python train.py config/think_hops_read.py --seed=1 \
#       --init_from=out-k4-direct-s1 --out_dir=out-k4-read-s1                     # reading before writing
#   OMP_NUM_THREADS=1 python think.py config/think_hops.py --seed=1 \
#       --init_from=out-k4-read-s1 --out_dir=out-k4-slot-s1                       # this file: the fixed slot
#   python think_answers.py out-k4-slot-s1 data/hops_k4_think/test.jsonl          # the diagnostics
# Free thinking (when to think too): --think_slot=0 --init_from=out-k4-slot-s1 --think_penalty=0.01.
# The teacher arm: --reward=teacher --teacher=out-k4-mid-s1 --teacher_chain=1 (the ceiling model, trained
# with f^2(a) written, writes its own f^2(a), then scores the answer the policy writes after its think token).

out_dir = 'out-k4-slot'
dataset = 'hops_k4_think'  # the records of data/hops_k4, with <think0>..<think7> in meta.pkl
init_from = 'out-k4-read'
eval_interval = 100
eval_iters = 8  # val prefixes: eval_iters * batch_size, the same ones every time
log_interval = 10
progress = 'lines'

model = 'think'
n_think = 8  # one per value the intermediate f^2(a) can take
max_think = 1
random_think_fraction = 0.0  # the plain text batch stays plain
think_slot = 1  # exactly one think token after each prompt; the policy chooses which
reward = 'next_text'
group_size = 16
baseline = 'mean'
rollout_temperature = 1.0
entropy_weight = 0.01  # on the think choice alone (the slot's softmax over the 8 think tokens)
lm_weight = 1.0  # the NLL of the true answer after the think token: the model learns to read it
sft_weight = 1.0  # the plain loss on records without think tokens

# the direct model's shape (config/hops.py --n_embd=64)
n_layer = 2
n_head = 4
n_embd = 64
block_size = 16
batch_size = 16  # prompts per iteration, each with group_size rollouts; also the plain batch
dropout = 0.0
bias = False

learning_rate = 1e-3
max_iters = 2000
lr_decay_iters = 2000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 20
weight_decay = 0.1
grad_clip = 1.0
device = 'cpu'
