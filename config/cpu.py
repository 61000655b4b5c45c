# The laptop demo: a character-level Shakespeare model on a CPU in about 3 minutes.
#   python data/shakespeare_char/prepare.py && python train.py config/cpu.py
#   python sample.py --out_dir=out-cpu
# nanoGPT's CPU recipe (4 layers, 4 heads, 128 wide, block 64, batch 12, 2000 iters, lr 1e-3,
# dropout 0) reaches val loss 1.886 in 3 min 4 s on a 2-core machine. Same shape here, with:
# no biases and exact GELU (faster steps), fused AdamW, 3x the learning rate (a 0.8M model
# takes it, and gets further per step), fewer evaluations. See the README for what it reached.

out_dir = 'out-cpu'
dataset = 'shakespeare_char'
eval_interval = 500
eval_iters = 20
log_interval = 50
always_save_checkpoint = False

n_layer = 4
n_head = 4
n_embd = 128
block_size = 64
batch_size = 12
dropout = 0.0
bias = False

learning_rate = 3e-3
max_iters = 2000
lr_decay_iters = 2000
min_lr = 3e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
