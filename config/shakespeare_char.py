# nanoGPT's shakespeare_char run, at its exact settings: a 10.65M-parameter character model.
# On a GPU: python train.py config/shakespeare_char.py (about 3 min on an A100).
# On a CPU it takes hours: see config/cpu.py for the laptop version.

out_dir = 'out-shakespeare-char'
cpu_config = 'config/cpu.py'  # the laptop version
eval_interval = 250  # frequent, because this model overfits
eval_iters = 200
log_interval = 10
always_save_checkpoint = False  # keep the best val loss only

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256

n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2
bias = False  # nanoGPT's default: 10.65M parameters

learning_rate = 1e-3
max_iters = 5000
lr_decay_iters = 5000
min_lr = 1e-4
beta2 = 0.99  # tokens per iteration are few
warmup_iters = 100
