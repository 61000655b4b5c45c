# Quiet-STaR on 3-hop lookups (data/hops, docs/quietstar.md): fine-tuning a 2-layer GPT that was
# pre-trained on a mix where half the records carry the chain as a thought after '='
# (=<startofthought>cd<endofthought>a), on direct records only (=a), whose (permutation, start)
# pairs the pre-training never showed. The thought at '=' predicts the answer from the positions the
# chain held in pre-training, so thought_len = k - 1 = 2 and one true token (n_true = 1).
#   python data/hops/prepare.py --n=8 --k=3 --chain_share=0.5 --chain_markers --test_chain_share=1 --out_dir=data/hops_k3_thought_mix
#   python data/hops/prepare.py --n=8 --k=3 --seed=2024 --chain_markers --exclude=data/hops_k3_thought_mix --train_size=80000 --out_dir=data/hops_k3_ft
#   OMP_NUM_THREADS=1 python train.py config/hops.py --dataset=hops_k3_thought_mix --block_size=20 --max_iters=30000 --lr_decay_iters=30000 --out_dir=out-qs-pre-mix
#   OMP_NUM_THREADS=1 python train.py config/quietstar_hops.py --seed=1337 --out_dir=out-qsh-qs-s1337
#   python quietstar.py answers out-qsh-qs-s1337 data/hops_k3_ft/test.jsonl
# Controls: --thought_len=0 (markers only), --policy_weight=0 (REINFORCE off), and plain
# fine-tuning at about the same FLOPs (config/hops.py on hops_k3_ft from out-qs-pre-mix with 10x the
# iterations: a thought costs thoughts_per_position * (thought_len + n_true + 2) = 10 passes per
# token); docs/quietstar.md has every arm's command.

out_dir = 'out-qs-hops'
dataset = 'hops_k3_ft'
init_from = 'out-qs-pre-mix'
eval_interval = 100
eval_iters = 10
log_interval = 20
always_save_checkpoint = True

model = 'quietstar'
thought_len = 2
n_true = 1
thoughts_per_position = 2
thought_temperature = 1.0
policy_weight = 1.0
clamp_rewards = True

# the pre-trained model's shape (config/hops.py with block 20: a thought record is 19 tokens;
# a direct one is 15, so every thought position with a target is exact)
n_layer = 2
n_head = 4
n_embd = 128
block_size = 20
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 1e-3
max_iters = 1000
lr_decay_iters = 1000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 50
weight_decay = 0.1
device = 'cpu'
progress = 'lines'
