# Baseline for config/gpt2_124m_reasoning.py: GPT-2 124M on OpenWebText with K=0, which is
# exactly nanoGPT's GPT and its train_gpt2 config (val loss about 2.85 after 600k iters).
#   torchrun --standalone --nproc_per_node=8 train.py config/gpt2_124m_baseline.py
# Cost: 491,520 tokens per iteration, 295B in all, 0.855 GFLOPs per token = 2.5e20 FLOPs:
# about 4 days on 8xA100 40GB (nanoGPT). For a compute-matched control to the K=1 run, give
# this one 2.26x the FLOPs (e.g. --max_iters=1360000 --lr_decay_iters=1360000).

out_dir = 'out-gpt2-124m-baseline'
eval_interval = 1000
eval_iters = 200
log_interval = 10
always_save_checkpoint = True

dataset = 'openwebtext'
gradient_accumulation_steps = 5 * 8  # total over all processes: 5 per GPU on 8 GPUs
batch_size = 12
block_size = 1024

model = 'reasoning_tokens'
n_reasoning = 0  # exactly the baseline GPT (tests/test_reasoning_tokens.py)
reasoning_loss = False
slot_embedding = True
group_positions = True

n_layer = 12
n_head = 12
n_embd = 768
dropout = 0.0
bias = False

learning_rate = 6e-4
max_iters = 600000
lr_decay_iters = 600000
min_lr = 6e-5
beta2 = 0.95
warmup_iters = 2000
weight_decay = 1e-1

compile = True  # as nanoGPT; its 4 days assume it
