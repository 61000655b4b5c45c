# Self-reasoning tokens, CPU scale, in the post's overfitting regime (the "large" comparison in
# the README): twice the iterations of config/reasoning_small.py. The post's 10M run overfits
# tiny Shakespeare (its val loss turns up after ~2500 of 5000 iterations, ~35 epochs); a CPU
# cannot train that long, so this run makes the training set small instead: the first 100k
# characters of train.bin, 23 epochs in 3000 iterations, with the post's dropout 0.2 and
# learning rate 1e-3. Val is the usual full 10% split.
# Both arms together, one thread each (the K=1 arm is the longer, ~20-30 minutes here):
#   OMP_NUM_THREADS=1 python train.py config/reasoning_large.py --n_reasoning=0 --out_dir=out-rt-large-k0 &
#   OMP_NUM_THREADS=1 python train.py config/reasoning_large.py --n_reasoning=1 --out_dir=out-rt-large-k1

out_dir = 'out-rt-large'
dataset = 'shakespeare_char'
train_tokens = 100_000
eval_interval = 150
eval_iters = 40
log_interval = 25
always_save_checkpoint = False

model = 'reasoning_tokens'
n_reasoning = 1
reasoning_loss = False
slot_embedding = True
group_positions = True

n_layer = 4
n_head = 4
n_embd = 128
block_size = 64
batch_size = 12
dropout = 0.2
bias = False

learning_rate = 1e-3
max_iters = 3000
lr_decay_iters = 3000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
device = 'cpu'
