# The supervised start of the <think_i> RL experiment (think.py, config/think_rl.py): a plain
# GPT learns 4-digit addition, most significant digit first, from answers alone (no chain of
# thought); it is the RL run's initial weights and the teacher of reward='teacher'.
#   python data/addition/prepare.py
#   OMP_NUM_THREADS=1 python train.py config/think_rl_sft.py
#   python score.py out-think-sft data/addition/test.jsonl

out_dir = 'out-think-sft'
dataset = 'addition'
eval_interval = 500
eval_iters = 10
log_interval = 50
always_save_checkpoint = True

n_layer = 4
n_head = 4
n_embd = 128
block_size = 16  # '0123+0456=' + '00579\n' is 16 tokens: a record is never cut
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 3e-3
max_iters = 1500  # of a cosine over 3000: stopped half way, at 88% exact, so that thinking has room to help
lr_decay_iters = 3000
min_lr = 3e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
progress = 'lines'
