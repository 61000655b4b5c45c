# The FLOP-matched dense control of the post's 10M run: config/mini_baseline.py (K=0) made
# wider until it costs what config/mini.py (K=1) costs per text token: 576 wide (head dim 96)
# is 154.2M FLOPs per text token against K=1's 156.1M (model.flops_per_token), 23.9M
# parameters. Meant for a GPU, beside the other two arms (python cuda_run.py runs all three).

out_dir = 'out-mini-dense'
cpu_config = 'config/reasoning_small.py --n_reasoning=0 --n_embd=192 --out_dir=out-rt-small-dense'  # the dense arm sized for a CPU
eval_interval = 250
eval_iters = 200
log_interval = 10
always_save_checkpoint = False

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256

model = 'reasoning_tokens'
n_reasoning = 0  # the baseline GPT, as in config/mini_baseline.py
reasoning_loss = False
slot_embedding = True
group_positions = True

n_layer = 6
n_head = 6
n_embd = 576
dropout = 0.2
bias = False

learning_rate = 1e-3
max_iters = 5000
lr_decay_iters = 5000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 1e-1
