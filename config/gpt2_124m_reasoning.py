# Self-reasoning tokens at GPT-2 124M on OpenWebText, K=1: nanoGPT's train_gpt2 config
# (the post: val 2.85 -> 2.81). Baseline: config/gpt2_124m_baseline.py (K=0, same run).
#   torchrun --standalone --nproc_per_node=8 train.py config/gpt2_124m_reasoning.py
# Cost: 12 batch x 1024 block x 40 accumulation = 491,520 text tokens per iteration
# (983,040 stream slots at K=1); 600k iterations = 295B text tokens. FLOPs per text token
# (model.flops_per_token, 124M params with bias=False): 0.855G at K=0, 1.936G at K=1 =
# 2 x (6N + 12*L*C*2048), 2.26x the baseline (2.0x if one leaves out the lm_head at r slots,
# which only runs with reasoning_loss): 2.5e20 vs 5.7e20 FLOPs. nanoGPT's baseline takes
# about 4 days on 8xA100 40GB, so this run about 8-9 days at the same utilisation.
# Report val_loss (g slots only, comparable with the baseline) and the compute: a K=0 run
# given the same FLOPs (about 2.3x the iterations) is the fair control.

out_dir = 'out-gpt2-124m-reasoning'
eval_interval = 1000
eval_iters = 200
log_interval = 10
always_save_checkpoint = True

dataset = 'openwebtext'
gradient_accumulation_steps = 5 * 8  # total over all processes: 5 per GPU on 8 GPUs
batch_size = 12
block_size = 1024  # text tokens; the stream is 2048 slots

model = 'reasoning_tokens'
n_reasoning = 1
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
