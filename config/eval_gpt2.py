# Evaluate OpenAI's GPT-2 124M on OpenWebText without training (nanoGPT reports
# train 3.11 / val 3.12): python train.py config/eval_gpt2.py
# For gpt2-medium / -large / -xl: --init_from=gpt2-medium --n_layer=24 --n_head=16 --n_embd=1024 (see HF configs).
out_dir = 'out-eval-gpt2'
init_from = 'gpt2'  # or a local directory written by transformers' save_pretrained
dataset = 'openwebtext'
eval_only = True
always_save_checkpoint = False
eval_iters = 500
batch_size = 8
block_size = 1024
n_layer = 12
n_head = 12
n_embd = 768
dropout = 0.0
bias = True
tanh_gelu = True  # GPT-2's own GELU
