# GPT-2 124M on OpenWebText at nanoGPT's train_gpt2 settings: val loss about 2.85 after
# 300B tokens, about 4 days on one node of 8x A100 40GB (nanoGPT's figure):
#   python data/openwebtext/prepare.py
#   torchrun --standalone --nproc_per_node=8 train.py config/gpt2_124m.py
# 12 batch * 1024 block * 40 accumulation steps (5 per GPU on 8 GPUs) = 491,520 tokens/iter.

out_dir = 'out-gpt2-124m'
dataset = 'openwebtext'
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 5 * 8

n_layer = 12
n_head = 12
n_embd = 768
dropout = 0.0
bias = False  # nanoGPT's default

learning_rate = 6e-4
max_iters = 600000
lr_decay_iters = 600000
min_lr = 6e-5
beta2 = 0.95
warmup_iters = 2000
weight_decay = 1e-1

eval_interval = 1000
eval_iters = 200
log_interval = 10
compile = True
