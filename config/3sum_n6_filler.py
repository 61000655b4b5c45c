# 3SUM with filler tokens (Pfau et al. 2024, "Let's Think Dot by Dot") at CPU scale: n=6
# tuples of 3 digits, filler arm: half chain of thought, half filler (the paper's training
# mix); tested on filler.
#   python data/3sum/prepare.py --n=6 --mix=filler --out_dir=data/3sum_n6_filler
#   python train.py config/3sum_n6_filler.py
#   python think.py accuracy out-3sum-n6-filler data/3sum_n6_filler/test.jsonl
# Loss on everything after the input (the chain of thought or the dots, then '=True'), as the
# paper; accuracy is on the final True/False with the filler given (teacher forced), as the
# paper. The same seed gives the same instances and formats in both arms. Cost: about 0.47
# s/iter on one busy CPU thread, so 25 minutes for 3000 iterations (96k records, about one
# pass over train.jsonl).

out_dir = 'out-3sum-n6-filler'
dataset = '3sum_n6_filler'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # the last checkpoint is the one scored

n_layer = 4
n_head = 4
n_embd = 128
block_size = 96  # the longest record (91 tokens) fits: records are never cut
batch_size = 32
dropout = 0.0
bias = False

learning_rate = 1e-3
max_iters = 3000
lr_decay_iters = 3000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
