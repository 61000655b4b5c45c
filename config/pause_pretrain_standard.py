# Pause tokens (Goyal et al. 2023) at CPU scale, pre-training, standard arm. The corpus is a
# token stream of 3SUM instances (n=8 tuples of 3 digits) written with their parallel chain of
# thought; fine-tuning then asks for the answer at once (config/pause_finetune_*.py).
#   python data/3sum/prepare.py --n=8 --mix=cot --stream --train_size=50000 --seed=1 --out_dir=data/3sum_pause_pt
#   python train.py config/pause_pretrain_standard.py
# The vocabulary holds <pause> (data/3sum/prepare.py always adds it) so that every arm has the
# same embedding table; here it is never seen. 1500 iterations of 32 x 160 tokens = 7.7M tokens,
# about one pass over the stream; about 0.9 s/iter on one busy CPU thread, so ~25 minutes.

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
max_iters = 1500
lr_decay_iters = 1500
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
