# Baseline for config/mini.py: the same run with K=0, which is exactly nanoGPT's GPT on
# shakespeare_char (same code path, same parameters, same logits as model.GPT).
#   python train.py config/mini_baseline.py
# Meant for a GPU: about 3 minutes on one A100 (5.8e15 FLOPs); on a CPU at ~100 GFLOP/s
# about 16 hours. nanoGPT reaches train loss ~0.62 and val ~1.70 at iter 5000 (best val
# ~1.47 near iter 2000-2500).

out_dir = 'out-mini-baseline'
cpu_config = 'config/reasoning_small.py --n_reasoning=0 --out_dir=out-rt-small-k0'  # the K=0 arm sized for a CPU
eval_interval = 250
eval_iters = 200
log_interval = 10
always_save_checkpoint = False

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256

model = 'reasoning_tokens'
n_reasoning = 0  # exactly the baseline GPT (tests/test_reasoning_tokens.py)
reasoning_loss = False
slot_embedding = True
group_positions = True

n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2
bias = False

learning_rate = 1e-3
max_iters = 5000
lr_decay_iters = 5000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 1e-1
