# Fine-tune GPT-2 124M on Shakespeare in GPT-2 BPE (python data/shakespeare/prepare.py):
#   python train.py config/finetune_shakespeare.py
# A few minutes on a GPU; init_from may also be a local directory written by save_pretrained.
out_dir = 'out-shakespeare'
init_from = 'gpt2'
dataset = 'shakespeare'
eval_interval = 5
eval_iters = 40
always_save_checkpoint = False

n_layer = 12
n_head = 12
n_embd = 768
bias = True
tanh_gelu = True  # GPT-2's own GELU
dropout = 0.1
block_size = 1024

# 1 batch * 32 accumulation * 1024 = 32,768 tokens/iter; shakespeare is 301,966 tokens: 1 epoch ~ 9.2 iters
batch_size = 1
gradient_accumulation_steps = 32
max_iters = 20
learning_rate = 3e-5
decay_lr = False
warmup_iters = 0  # constant, as nanoGPT's finetune_shakespeare
