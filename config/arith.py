# Supervised fine-tuning on the arithmetic word problems (data/arith/prepare.py), the start
# of the GRPO runs (config/grpo_arith.py). From scratch, a character model, on CPU (1 thread).
#   python data/arith/prepare.py
#   OMP_NUM_THREADS=1 python train.py config/arith.py                      # <think> steps, then the answer
#   python data/arith/prepare.py --style=answer --out_dir=data/arith_answer
#   OMP_NUM_THREADS=1 python train.py config/arith.py --dataset=arith_answer --out_dir=out-arith-answer
# Few iterations on purpose: a middling accuracy leaves RL room to improve.

out_dir = 'out-arith'
dataset = 'arith'
eval_interval = 100
eval_iters = 10
log_interval = 10
always_save_checkpoint = True

n_layer = 4
n_head = 4
n_embd = 128
block_size = 160
batch_size = 32
dropout = 0.0
bias = False

learning_rate = 2e-3
max_iters = 800
lr_decay_iters = 800
min_lr = 2e-4
beta2 = 0.99
warmup_iters = 50
device = 'cpu'
progress = 'lines'
