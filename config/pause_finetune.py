# Pause tokens (Goyal et al. 2023) at CPU scale, fine-tuning: 4-digit addition answered at once,
# most significant digit first, from either pre-training run (config/pause_pretrain.py), with or
# without 10 <pause> tokens after every prompt (the prompt, pauses included, takes no loss; the
# last pause predicts the first answer digit; the test prompts carry the same pauses). The arms:
#   python data/addition/prepare.py --seed=2 --out_dir=data/addition_ft
#   python vocab.py pause_records data/addition_ft data/addition_ft0 --n_pause=0    # <pause> in the vocabulary, unused
#   python vocab.py pause_records data/addition_ft data/addition_ft10 --n_pause=10
#   for pt in standard pause; do for ft in 0 10; do
#     python train.py config/pause_finetune.py --init_from=out-pause-pt-$pt --dataset=addition_ft$ft --out_dir=out-pause-ft-$pt-$ft
#     python score.py out-pause-ft-$pt-$ft data/addition_ft$ft/test.jsonl --json
#   done; done
# The control: --init_from=scratch --out_dir=out-pause-ft-scratch-$ft; a second seed: --seed=1338.
# init_from names the pre-training run: its weights (a 'pause' model loads into a 'gpt' one:
# same parameters) start the run at iteration 0 with a fresh optimizer. The data's seeds:
# pre-training 1, fine-tuning 2 (other operand pairs, the same in both fine-tuning datasets).

out_dir = 'out-pause-ft-standard-0'
dataset = 'addition_ft0'
init_from = 'out-pause-pt-standard'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True

model = 'gpt'
n_layer = 4
n_head = 4
n_embd = 128
block_size = 64  # as pre-training (the position table has this many rows)
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 3e-3
max_iters = 1000
lr_decay_iters = 1000
min_lr = 3e-4
beta2 = 0.99
warmup_iters = 50
weight_decay = 0.1
device = 'cpu'
