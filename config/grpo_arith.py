# GRPO on the two-step arithmetic problems, on CPU (1 thread), from the supervised start
# that config/arith.py trains (<think> steps, then the answer):
#   python data/arith/prepare.py --question=short --steps=2 --max_operand=99 --max_multiplier=9 \
#       --train_size=100000 --out_dir=data/arith2
#   OMP_NUM_THREADS=1 python train.py config/arith.py
#   OMP_NUM_THREADS=1 python grpo.py config/grpo_arith.py
# The gate alone (the start's held-out scores): --max_iters=0. Held-out greedy, sampled,
# pass@8 and majority@8 on the 500 val prompts every eval_interval steps, in out_dir/log.jsonl.

out_dir = 'out-grpo-arith'
init_from = 'out-arith'
dataset = 'arith2'
eval_interval = 50
eval_prompts = 500
eval_samples = 8

batch_size = 16
group_size = 16
max_new_tokens = 35
temperature = 1.0

accuracy_weight = 1.0
format_weight = 0.1

advantage_scale = 'group'
loss_type = 'grpo'
mu = 2
epsilon_low = 0.2
epsilon_high = 0.28  # DAPO's clip-higher
beta = 0.0

learning_rate = 3e-5  # sweep (docs/grpo.md): 1e-3 collapses, 1e-4 to 3e-4 lose accuracy in 60 steps, 6e-5 in 300
warmup_iters = 20
max_iters = 300
grad_clip = 1.0
device = 'cpu'
progress = 'lines'
