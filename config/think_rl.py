# <think_i> tokens chosen by the model, trained by RL (think.py), on 4-digit addition
# written most significant digit first, from the supervised model of config/think_rl_sft.py:
#   python data/addition/prepare.py
#   python data/addition/prepare.py --n_think=64 --out_dir=data/addition_think
#   OMP_NUM_THREADS=1 python train.py config/think_rl_sft.py
#   OMP_NUM_THREADS=1 python think.py config/think_rl.py
#   python plot.py out-think-rl/log.jsonl --figure=think_rl
# The arms of the README's table are overrides of this file: --baseline=none, --think_penalty=P,
# --reward=teacher (the teacher is the supervised run itself).

out_dir = 'out-think-rl'
dataset = 'addition_think'  # the records of data/addition, with <think0>..<think63> in meta.pkl
init_from = 'out-think-sft'  # grown by the 64 think rows (they start at the mean embedding)
eval_interval = 100
eval_iters = 16  # val prefixes: eval_iters * batch_size, the same ones every time
log_interval = 5
progress = 'lines'

model = 'think'
n_think = 64  # the original used 2048 (prepare the data with --n_think=2048; every step is slower)
max_think = 2
think_penalty = 0.0
reward = 'next_text'
teacher = 'out-think-sft'
group_size = 8
baseline = 'mean'
rollout_temperature = 1.0
entropy_weight = 0.001
lm_weight = 1.0
sft_weight = 1.0

# the supervised model's shape (config/think_rl_sft.py)
n_layer = 4
n_head = 4
n_embd = 128
block_size = 16
batch_size = 8  # prefixes per iteration, each with group_size rollouts; also the plain-text batch
dropout = 0.0
bias = False

learning_rate = 3e-4
max_iters = 300
lr_decay_iters = 300
min_lr = 3e-5
beta2 = 0.99
warmup_iters = 10
weight_decay = 0.1
device = 'cpu'
