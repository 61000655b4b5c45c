# Reading before writing (docs/think_rl.md): the direct 4-hop model (config/hops.py, n_embd 64,
# 30,000 iterations) grown by 8 think tokens and trained on its own records with 2 think tokens
# of random identity at random places of every row and no loss where the next token is one, so
# that it reads past think tokens before any policy writes one (the start of config/think_hops.py):
#   OMP_NUM_THREADS=1 python train.py config/think_hops_read.py --seed=1 \
#       --init_from=out-k4-direct-s1 --out_dir=out-k4-read-s1
# The control with no thinking: as many iterations as reading and the slot together, no think tokens,
#   OMP_NUM_THREADS=1 python train.py config/hops.py --dataset=hops_k4 --n_embd=64 --learning_rate=1e-3 \
#       --min_lr=1e-4 --warmup_iters=20 --max_iters=4000 --lr_decay_iters=4000 --seed=1 \
#       --init_from=out-k4-direct-s1 --out_dir=out-k4-plain-s1

out_dir = 'out-k4-read'
dataset = 'hops_k4_think'
init_from = 'out-k4-direct'
eval_interval = 500
eval_iters = 20
log_interval = 100
always_save_checkpoint = True

model = 'think'
n_think = 8
max_think = 1
think_init_std = 0.02  # distinct rows: the mean embedding + N(0, 0.02^2)
random_think_fraction = 0.15  # 2 think tokens in each row of 14 inputs

n_layer = 2
n_head = 4
n_embd = 64
block_size = 16
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 1e-3
max_iters = 2000
lr_decay_iters = 2000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 20
weight_decay = 0.1
device = 'cpu'
