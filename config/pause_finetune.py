# Pause tokens (Goyal et al. 2023) at CPU scale, fine-tuning: 8-digit addition answered at once,
# most significant digit first (the first answer digit depends on every carry), by a 2-layer
# model, from either pre-training run (config/pause_pretrain.py) or from scratch, with 0 or 10
# <pause> tokens after every prompt (the prompt, pauses included, takes no loss; the last pause
# predicts the first answer digit). The test prompts carry 0, 5, 10 or 20 pauses.
#   python data/addition/prepare.py --digits=8 --seed=2 --train_size=200000 --out_dir=data/addition_ft
#   for k in 0 5 10 20; do python vocab.py pause_records data/addition_ft data/addition_ft$k --n_pause=$k; done
#   for s in 1 2 3; do for pt in scratch standard pause; do for ft in 0 10; do
#     init=out-pause-pt-$pt; [ $pt = scratch ] && init=scratch
#     python train.py config/pause_finetune.py --init_from=$init --dataset=addition_ft$ft --seed=$s --out_dir=out-pause-ft-$pt-$ft-s$s
#     for k in 0 5 10 20; do python score.py out-pause-ft-$pt-$ft-s$s data/addition_ft$k/test.jsonl --json; done
#   done; done; done
# init_from names the pre-training run: its weights (a 'pause' model loads into a 'gpt' one:
# same parameters) start the run at iteration 0 with a fresh optimizer. The log's val_exact
# (every answer token the argmax, what greedy decoding writes) gives the iterations to 50% and
# 90%. The data's seeds: pre-training 1, fine-tuning 2.

out_dir = 'out-pause-ft-standard-0'
dataset = 'addition_ft0'
init_from = 'out-pause-pt-standard'
eval_interval = 125
eval_iters = 10
log_interval = 50
always_save_checkpoint = True

model = 'gpt'
n_layer = 2
n_head = 4
n_embd = 128
block_size = 64  # as pre-training (the position table has this many rows)
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 3e-3
max_iters = 3000
lr_decay_iters = 3000
min_lr = 3e-4
beta2 = 0.99
warmup_iters = 50
weight_decay = 0.1
device = 'cpu'
