# Pause tokens (Goyal et al. 2023) at CPU scale, pre-training, pause arm: the standard arm
# (config/pause_pretrain_standard.py) with model 'pause' (think.PauseGPT): in training, 10% of
# each sequence's positions become <pause> at random places (16 of 160; the last 16 text tokens
# drop out) and no loss is taken where the next token is a pause. Validation loss is measured
# without pauses, so it compares with the standard arm's.
#   python data/3sum/prepare.py --n=8 --mix=cot --stream --train_size=50000 --seed=1 --out_dir=data/3sum_pause_pt
#   python train.py config/pause_pretrain_pause.py

out_dir = 'out-pause-pt-pause'
dataset = '3sum_pause_pt'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = True  # fine-tuning starts from the last checkpoint

model = 'pause'
pause_fraction = 0.1
# pause_id: train.py reads it from the dataset's meta.pkl

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
