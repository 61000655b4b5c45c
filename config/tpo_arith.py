# TPO on the two-step arithmetic problems, on CPU (1 thread), from the supervised <think> start
# that config/arith.py trains (the GRPO runs' start):
#   python data/arith/prepare.py --question=short --steps=2 --max_operand=99 --max_multiplier=9 \
#       --train_size=100000 --out_dir=data/arith2
#   OMP_NUM_THREADS=1 python train.py config/arith.py
#   OMP_NUM_THREADS=1 python tpo.py config/tpo_arith.py
# A judge that can be wrong, an answers-only model (docs/grpo.md's R1-Zero start):
#   python data/arith/prepare.py ... --style=answer --out_dir=data/arith2_answer
#   OMP_NUM_THREADS=1 python train.py config/arith.py --dataset=arith2_answer --out_dir=out-arith-answer
#   OMP_NUM_THREADS=1 python tpo.py config/tpo_arith.py --judge=likelihood --judge_from=out-arith-answer
# The direct baseline: the same loop from the answers-only model, on its own prompts:
#   OMP_NUM_THREADS=1 python tpo.py config/tpo_arith.py --init_from=out-arith-answer --dataset=arith2_answer

out_dir = 'out-tpo-arith'
init_from = 'out-arith'
dataset = 'arith2'
eval_prompts = 500

iterations = 6
prompts_per_iteration = 1600  # 6 x 1600 x 8 = 76,800 rollouts: GRPO's 300 steps of 16 x 16
samples = 8
max_new_tokens = 35
temperature = 1.0

judge = 'exact'
beta = 0.1
epochs = 1
batch_size = 32
learning_rate = 1e-5
device = 'cpu'
progress = 'lines'
