# Pause tokens (Goyal et al. 2023) at CPU scale, pre-training on a corpus other than the task,
# as they pre-train on C4: a token stream of 6-digit additions written least significant digit
# first (the fine-tuning task is 8-digit addition, most significant digit first: other lengths,
# the other order). Two layers, as the fine-tuning control (config/pause_finetune.py).
#   python data/addition/prepare.py --digits=6 --reverse --stream --seed=1 --train_size=200000 --out_dir=data/addition_pt
#   python vocab.py add_tokens data/addition_pt '<pause>'
#   python train.py config/pause_pretrain.py --out_dir=out-pause-pt-standard
#   python train.py config/pause_pretrain.py --model=pause --out_dir=out-pause-pt-pause
# The pause arm (pause.PauseGPT) turns 10% of each sequence's positions into <pause> at random
# places in training (6 of 64; the last 6 text tokens drop out) and takes no loss where the
# next token is a pause; its val loss is measured without pauses, so it compares with the
# standard arm's. The vocabulary holds <pause> in both arms (one embedding table).
# 2000 iterations of 32 x 64 tokens = 4M tokens, about 1.4 passes over the stream.

out_dir = 'out-pause-pt-standard'
dataset = 'addition_pt'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # fine-tuning starts from the last checkpoint

model = 'gpt'
n_layer = 2
n_head = 4
n_embd = 128
block_size = 64
batch_size = 32
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
