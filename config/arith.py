# Supervised start of the GRPO runs (config/grpo_arith.py): <think> steps, then the answer, on
# two-step problems written short (operands to 99, multipliers to 9) (data/arith/prepare.py), from scratch, on CPU (1 thread).
#   python data/arith/prepare.py --question=short --steps=2 --max_operand=99 --max_multiplier=9 --train_size=100000 --out_dir=data/arith2
#   OMP_NUM_THREADS=1 python train.py config/arith.py
# The gate (docs/grpo.md): greedy, sampled, pass@8 and majority@8 on the 500 held-out prompts,
#   OMP_NUM_THREADS=1 python grpo.py config/grpo_arith.py --max_iters=0 --eval_prompts=500

out_dir = 'out-arith'
dataset = 'arith2'
eval_interval = 250
eval_iters = 10
log_interval = 50
always_save_checkpoint = False

n_layer = 2
n_head = 4
n_embd = 56
block_size = 64
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 2e-3
max_iters = 3000
lr_decay_iters = 3000
min_lr = 2e-4
beta2 = 0.99
warmup_iters = 100
device = 'cpu'
progress = 'lines'
