# Pause tokens (Goyal et al. 2023) at CPU scale, pre-training. The corpus is a token stream of
# 3SUM instances (n=8 tuples of 3 digits) written with their parallel chain of thought;
# fine-tuning then asks for the answer at once (config/pause_finetune.py). Two arms:
#   python data/3sum/prepare.py --n=8 --mix=cot --stream --train_size=50000 --seed=1 --out_dir=data/3sum_pause_pt
#   python train.py config/pause_pretrain.py --out_dir=out-pause-pt-standard
#   python train.py config/pause_pretrain.py --model=pause --out_dir=out-pause-pt-pause
# The pause arm (think.PauseGPT) turns 10% of each sequence's positions into <pause> at random
# places in training (16 of 160; the last 16 text tokens drop out) and takes no loss where the
# next token is a pause; its val loss is measured without pauses, so it compares with the
# standard arm's. The vocabulary holds <pause> in both arms (one embedding table).
# 1500 iterations of 32 x 160 tokens = 7.7M tokens, about one pass over the stream; not run
# yet: ~0.9 s/iter on one busy CPU thread, so ~25 minutes per arm.

out_dir = 'out-pause-pt-standard'
dataset = '3sum_pause_pt'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # fine-tuning starts from the last checkpoint

model = 'gpt'
n_layer = 4
n_head = 4
n_embd = 128
block_size = 160
batch_size = 32
dropout = 0.0
bias = False

learning_rate = 1e-3
max_iters = 800
lr_decay_iters = 800
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
