# Quiet-STaR fine-tuning of the laptop character model (config/cpu.py, out-cpu): the smoke example of
# docs/quietstar.md (next characters give a thought nothing to compute; the test of the idea is
# config/quietstar_hops.py). With N-token
# thoughts after every character, on CPU (1 thread). The arms are N = 0 (the control: only
# <startofthought><endofthought>, the extra passes and the mixing head but no thought content,
# so a gain there is not thinking), 2, 4 and 8. Run in order, for each N:
#   python train.py config/cpu.py                       # the base model, if out-cpu is missing
#   OMP_NUM_THREADS=1 python train.py config/quietstar.py --thought_len=N --out_dir=out-qs-tN
#   python quietstar.py eval out-cpu out-qs-tN         # base vs mixed val NLL, same batches
# The run starts from out-cpu's weights; train.py adds <startofthought> and <endofthought> to
# the vocabulary, their rows copied from '-'.

out_dir = 'out-qs-t4'  # arms: --thought_len=N --out_dir=out-qs-tN
dataset = 'shakespeare_char'
init_from = 'out-cpu'
eval_interval = 100
eval_iters = 10
log_interval = 5
always_save_checkpoint = True

model = 'quietstar'
thought_len = 4
n_true = 2
thoughts_per_position = 2
thought_temperature = 1.0
policy_weight = 1.0
clamp_rewards = True

# the base model's shape (config/cpu.py); block 64, so the thoughts of the last thought_len + 2
# positions run past it and share position 63
n_layer = 4
n_head = 4
n_embd = 128
block_size = 64
batch_size = 4
dropout = 0.0
bias = False

learning_rate = 3e-4
max_iters = 400
lr_decay_iters = 400
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 20
weight_decay = 0.1
device = 'cpu'
progress = 'lines'
