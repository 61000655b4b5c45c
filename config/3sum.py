# 3SUM with filler tokens (Pfau et al. 2024, "Let's Think Dot by Dot") at CPU scale. Arms (the
# same seed gives the same instances in every arm):
#   filler:    half chain of thought, half filler (the paper's training mix); tested on filler
#   nofiller:  the same records with the dots removed; tested on immediate answers
#   python data/3sum/prepare.py --n=6 --mix=filler --out_dir=data/3sum_n6_filler
#   python data/3sum/prepare.py --n=6 --mix=nofiller --out_dir=data/3sum_n6_nofiller
#   python train.py config/3sum.py --dataset=3sum_n6_filler --out_dir=out-3sum-n6-filler
#   python train.py config/3sum.py --dataset=3sum_n6_nofiller --out_dir=out-3sum-n6-nofiller
#   python score.py out-3sum-n6-filler data/3sum_n6_filler/test.jsonl --json
#   python score.py out-3sum-n6-nofiller data/3sum_n6_nofiller/test.jsonl --json
# (likewise n=8, 10, 12). One token per tuple (2 digits by default: 100 symbols). Loss on
# everything after the input (the chain of thought or the dots, then '=True'), as the paper;
# accuracy is on the final True/False with the filler given (teacher forced), as the paper.
# The README's old result (every arm at 50%) was measured on the earlier character format.

out_dir = 'out-3sum'
dataset = '3sum_n8_filler'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # the last checkpoint is the one scored

n_layer = 4
n_head = 4
n_embd = 128
block_size = 128  # the longest n=10 record (filler: 10 tuples, ':', 100 dots, '=False', newline: 118 tokens) fits
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
