# k-hop pointer chasing (data/hops): a small GPT answering f^k(a) directly, or writing the chain.
# The gate of the thinking experiments on this task (../shared/EXPERIMENTS.md): the direct
# control should fail at some k where the chain succeeds.
#   python data/hops/prepare.py --n=8 --k=3 --out_dir=data/hops_k3
#   python data/hops/prepare.py --n=8 --k=3 --chain_share=1 --out_dir=data/hops_k3_chain
#   OMP_NUM_THREADS=1 python train.py config/hops.py --dataset=hops_k3 --out_dir=out-hops-k3
#   python score.py out-hops-k3 data/hops_k3/test.jsonl --json
# Reasoning slots on the same records: --model=reasoning_tokens --n_reasoning=1 (or 3).
# Plateaus are expected: one hop at n=8 sits at ln 8 for ~5k iterations at this learning rate
# before it learns (measured when the task was specified), so the budget is 12k iterations.

out_dir = 'out-hops'
dataset = 'hops'
eval_interval = 1000
eval_iters = 20
log_interval = 100
always_save_checkpoint = False

n_layer = 2
n_head = 4
n_embd = 128
block_size = 16  # a record is n+7 tokens direct, n+k+6 with the chain (array form): 16 inputs fit n=8, k<=3
# (train.py says so when records are longer: they keep their end and lose their start)
batch_size = 64
dropout = 0.0
bias = False

learning_rate = 3e-3
max_iters = 12000
lr_decay_iters = 12000
min_lr = 3e-4
beta2 = 0.99
warmup_iters = 100
weight_decay = 0.1
device = 'cpu'
