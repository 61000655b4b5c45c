# Self-reasoning tokens, CPU scale (the "small" comparison in the README): the post's mini run
# shrunk to fit ~10 minutes per arm on a 2-core CPU. Same data, tokenizer, seed and text
# batches in every arm (batches are a function of seed and iteration only).
#   python train.py config/reasoning_small.py --n_reasoning=0 --out_dir=out-rt-small-k0
#   python train.py config/reasoning_small.py --n_reasoning=1 --out_dir=out-rt-small-k1
#   python train.py config/reasoning_small.py --n_reasoning=3 --out_dir=out-rt-small-k3
#   python train.py config/reasoning_small.py --n_reasoning=1 --reasoning_loss=True --out_dir=out-rt-small-k1-loss
#   python train.py config/reasoning_small.py --n_reasoning=0 --n_embd=192 --out_dir=out-rt-small-dense
# The last arm is the dense control: K=0 at 192 wide costs 11.29M FLOPs per text token,
# K=1 at 128 wide 11.13M (model.flops_per_token), so it is matched in compute to K=1.

out_dir = 'out-rt-small'
dataset = 'shakespeare_char'
eval_interval = 100
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
dropout = 0.0
bias = False

learning_rate = 2e-3
max_iters = 1500
lr_decay_iters = 1500
min_lr = 2e-4
beta2 = 0.99
warmup_iters = 100
device = 'cpu'
