# Pause tokens (Goyal et al. 2023) at CPU scale, fine-tuning arm: standard pre-training,
# standard fine-tuning. Task: 3SUM, n=8 tuples of 3 digits, answered at once (the answer right
# after the input, no pauses).
#   python data/3sum/prepare.py --n=8 --mix=immediate --seed=2 --train_size=50000 --out_dir=data/3sum_pause_ft0
#   python train.py config/pause_finetune_standard_standard.py
#   python think.py accuracy out-pause-ft-standard-standard data/3sum_pause_ft0/test.jsonl
# init_from names the pre-training run: its weights (a 'pause' model loads into a 'gpt' one:
# same parameters) start this run at iteration 0 with a fresh optimizer.
# Both fine-tuning datasets use seed 2: the same instances, pre-training used seed 1.
# Records are short (32 + 7 tokens, +10 pauses), so about 0.3 s/iter: ~8 minutes.

out_dir = 'out-pause-ft-standard-standard'
dataset = '3sum_pause_ft0'
init_from = 'out-pause-pt-standard'  # the pre-training run's out_dir
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True

model = 'gpt'
n_layer = 4
n_head = 4
n_embd = 128
block_size = 160  # as pre-training (the position table has this many rows)
batch_size = 32
dropout = 0.0
bias = False

learning_rate = 3e-4
max_iters = 1500
lr_decay_iters = 1500
min_lr = 3e-5
beta2 = 0.99
warmup_iters = 50
weight_decay = 0.1
device = 'cpu'
