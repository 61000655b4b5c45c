# Pause tokens (Goyal et al. 2023) at CPU scale, pre-training. The corpus is a token stream of
# 4-digit additions, answers most significant digit first; fine-tuning (config/pause_finetune.py)
# asks for the same kind of answer at once, from task records, with or without pauses.
#   python data/addition/prepare.py --stream --seed=1 --train_size=100000 --out_dir=data/addition_pt
#   python vocab.py add_tokens data/addition_pt '<pause>'
#   python train.py config/pause_pretrain.py --out_dir=out-pause-pt-standard
#   python train.py config/pause_pretrain.py --model=pause --out_dir=out-pause-pt-pause
# The pause arm (think.PauseGPT) turns 10% of each sequence's positions into <pause> at random
# places in training (6 of 64; the last 6 text tokens drop out) and takes no loss where the
# next token is a pause; its val loss is measured without pauses, so it compares with the
# standard arm's. The vocabulary holds <pause> in both arms (one embedding table).
# 1000 iterations of 32 x 64 tokens = 2M tokens, about 1.3 passes over the stream (5 minutes
# on one thread). A first design pre-trained on answers least significant digit first
# (--reverse, into data/addition_pt_lsb, then --dataset=addition_pt_lsb): see the README.

out_dir = 'out-pause-pt-standard'
dataset = 'addition_pt'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # fine-tuning starts from the last checkpoint

model = 'gpt'
n_layer = 4
n_head = 4
n_embd = 128
block_size = 64
batch_size = 32
dropout = 0.0
bias = False

learning_rate = 3e-3
max_iters = 1000
lr_decay_iters = 1000
min_lr = 3e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
