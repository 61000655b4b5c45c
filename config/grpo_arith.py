# GRPO on the arithmetic word problems (data/arith), on CPU (1 thread), from a model that
# train.py fine-tuned on <think> steps then the answer (config/arith.py):
#   python data/arith/prepare.py
#   OMP_NUM_THREADS=1 python train.py config/arith.py
#   OMP_NUM_THREADS=1 python grpo.py config/grpo_arith.py
# The R1-Zero-style arm starts from a model fine-tuned on answers only (no steps, no tags)
# and keeps the format reward; the prompts are the same:
#   python data/arith/prepare.py --style=answer --out_dir=data/arith_answer
#   OMP_NUM_THREADS=1 python train.py config/arith.py --dataset=arith_answer --out_dir=out-arith-answer
#   OMP_NUM_THREADS=1 python grpo.py config/grpo_arith.py --init_from=out-arith-answer --out_dir=out-grpo-arith-zero
# Held-out accuracy before (iter 0) and after is in out_dir/log.jsonl.

out_dir = 'out-grpo-arith'
init_from = 'out-arith'
dataset = 'arith'
eval_interval = 20
eval_prompts = 200
eval_samples = 8

batch_size = 8
group_size = 8
max_new_tokens = 40
temperature = 1.0

accuracy_weight = 1.0
format_weight = 0.5

advantage_scale = 'group'
loss_type = 'grpo'
mu = 2
epsilon_low = 0.2
epsilon_high = 0.2
beta = 0.04

learning_rate = 3e-5  # 3e-4 collapsed the policy: one AdamW step moved a log-prob by 8 nats
max_iters = 100
grad_clip = 1.0
device = 'cpu'
progress = 'lines'
