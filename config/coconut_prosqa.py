# Coconut on ProsQA graphs (data/prosqa, the symbolic rendering: one token per concept) at CPU
# scale: a 0.8M-parameter model (4 layers x 128) with the small-model init (docs/coconut.md, "The
# init"). Every arm is this config plus curriculum keys (coconut.py CURRICULUM):
#   python data/prosqa/prepare.py
#   python coconut.py curriculum config/coconut_prosqa.py --arm=nocot --out_dir=out-coconut-nocot
#   python coconut.py curriculum config/coconut_prosqa.py --arm=cot --out_dir=out-coconut-cot
#   python coconut.py curriculum config/coconut_prosqa.py --arm=pause --out_dir=out-coconut-pause
#   python coconut.py curriculum config/coconut_prosqa.py --arm=nothought --out_dir=out-coconut-nothought
#   python coconut.py curriculum config/coconut_prosqa.py --first_stage=3 --out_dir=out-coconut-nocurriculum
#   python coconut.py curriculum config/coconut_prosqa.py --out_dir=out-coconut
# (the iterations and data of the measured runs are in docs/coconut.md). With train.py alone
# this config trains the chain-of-thought records of data/prosqa, one stage.

out_dir = 'out-coconut'
dataset = 'prosqa'
eval_interval = 1000  # the curriculum scores answers after each stage; loss only at the ends
eval_iters = 4
log_interval = 10
always_save_checkpoint = True  # the last checkpoint of a stage starts the next

model = 'coconut'
n_layer = 4
n_head = 4
n_embd = 128
tie_embeddings = False  # with GPT-2's init (tied, N(0, 0.02)) no model here learned the lookup (docs/coconut.md)
embed_std = 1.0
init_std = 0.05
block_size = 128  # the longest symbolic record (~107 tokens, test_deeper's) plus c*max_stage thoughts and the markers
dropout = 0.0
bias = False

batch_size = 64
learning_rate = 1e-3
decay_lr = False  # constant, as the paper; a fresh optimizer at every stage
warmup_iters = 0
weight_decay = 0.01
beta2 = 0.99
grad_clip = 1.0
device = 'cpu'
