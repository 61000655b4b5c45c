# Self-reasoning tokens, the post's "10M" run: exactly nanoGPT's shakespeare_char config
# (6 layers, 6 heads, 384 wide, block 256, batch 64, 5000 iters = 81.92M text tokens,
# 10.65M parameters with bias=False as in nanoGPT), with K=1 reasoning slot per token.
#   python train.py config/mini.py            (baseline: config/mini_baseline.py)
# Meant for a GPU. Cost: FLOPs per text token (model.flops_per_token) are 71.0M at K=0 and
# 156.1M at K=1 (2.2x: twice the slots, each attending over a twice longer stream), so
# 5.8e15 vs 1.28e16 FLOPs in all. nanoGPT's baseline takes about 3 minutes on one A100, so
# this one about 7. On a CPU at ~100 GFLOP/s: about 16 hours and 36 hours.
# The post's "0.621 -> 0.401" is training loss while overfitting (val is ~1.70 at iter 5000,
# best ~1.47 near 2000-2500): compare val_loss in out_dir/log.jsonl, which is the g-slot
# loss alone (eval mode) and so comparable across K.

out_dir = 'out-mini'
cpu_config = 'config/reasoning_small.py'  # the same comparison sized for a CPU (K=0: --n_reasoning=0)
eval_interval = 250
eval_iters = 200
log_interval = 10
always_save_checkpoint = False

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256  # text tokens; the stream is 512 slots

model = 'reasoning_tokens'
n_reasoning = 1
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
