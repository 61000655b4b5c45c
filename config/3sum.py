# 3SUM with filler tokens (Pfau et al. 2024, "Let's Think Dot by Dot") at CPU scale, one token
# per tuple (d=2: 100 symbols). From scratch no setup learned the chain of thought within a few
# thousand iterations (docs/pause_and_filler.md), so every arm starts from a short stage on
# three tuples, where the chain is learned in minutes:
#   python data/3sum/prepare.py --n=3 --mix=cot --val_size=500 --test_size=500 --out_dir=data/3sum_n3_cot
#   python train.py config/3sum.py --dataset=3sum_n3_cot --max_iters=4000 --lr_decay_iters=4000 --out_dir=out-3sum-n3
# Then each arm at n tuples (the same seed gives the same instances in every arm):
#   python data/3sum/prepare.py --n=6 --mix=filler --val_like_test --out_dir=data/3sum_n6_filler
#   (--mix: filler, nofiller, fillonly, immediate, cot)
#   python train.py config/3sum.py --dataset=3sum_n6_filler --init_from=out-3sum-n3 --seed=1 --out_dir=out-3sum-n6-filler-s1
#   python score.py out-3sum-n6-filler-s1 data/3sum_n6_filler/test.jsonl --json
# Loss on everything after the input (the chain of thought or the dots, then '=True'), as the
# paper; accuracy is on the final True/False with the filler given (teacher forced), as the paper.

out_dir = 'out-3sum'
dataset = '3sum_n6_filler'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # the last checkpoint is the one scored

n_layer = 4
n_head = 4
n_embd = 128
block_size = 128  # the longest n=10 record of one token per tuple (filler: 10 tuples, ':', 100 dots, '=False', newline: 118 tokens) fits
batch_size = 32
dropout = 0.0
bias = False

learning_rate = 1e-3
max_iters = 2000
lr_decay_iters = 2000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
