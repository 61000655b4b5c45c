# Pause tokens (Goyal et al. 2023) at CPU scale, fine-tuning: 3SUM (n=8 tuples of 3 digits)
# answered at once, from either pre-training run (config/pause_pretrain.py), with or without
# 10 <pause> tokens after every prompt (the prompt, pauses included, takes no loss; the last
# pause predicts '='; the test prompts carry the same pauses). The four arms:
#   python data/3sum/prepare.py --n=8 --mix=immediate --seed=2 --train_size=50000 --out_dir=data/3sum_pause_ft0
#   python data/3sum/prepare.py --n=8 --mix=immediate --seed=2 --train_size=50000 --n_pause=10 --out_dir=data/3sum_pause_ft10
#   for pt in standard pause; do for ft in standard pause; do
#     d=$([ $ft = pause ] && echo 3sum_pause_ft10 || echo 3sum_pause_ft0)
#     python train.py config/pause_finetune.py --init_from=out-pause-pt-$pt --dataset=$d --out_dir=out-pause-ft-$pt-$ft
#     python think.py accuracy out-pause-ft-$pt-$ft data/$d/test.jsonl
#   done; done
# init_from names the pre-training run: its weights (a 'pause' model loads into a 'gpt' one:
# same parameters) start the run at iteration 0 with a fresh optimizer. Both fine-tuning
# datasets use seed 2 (the same instances); pre-training used seed 1. Records are short
# (32 + 7 tokens, +10 pauses): ~0.3 s/iter, ~8 minutes per arm. Not run yet.

out_dir = 'out-pause-ft-standard-standard'
dataset = '3sum_pause_ft0'
init_from = 'out-pause-pt-standard'
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
max_iters = 500
lr_decay_iters = 500
min_lr = 3e-5
beta2 = 0.99
warmup_iters = 50
weight_decay = 0.1
device = 'cpu'
