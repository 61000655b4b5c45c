# The official Quiet-STaR recipe's terms (ezelikman/quiet-star: modeling_mistral.py and
# quiet-star-train.py), on top of another Quiet-STaR config, e.g.
#   python train.py config/quietstar.py config/quietstar_official.py --out_dir=out-qs-official
# quietstar.py's docstring says what each term does and what is left out.

model = 'quietstar'
base_nll_weight = 0.5  # original_loss_weight: half the loss is the base head's next-token NLL
policy_weight = 1e6  # policy_loss_beta
marker_scale = 100.0  # embedding_scale: the markers' own input vectors, stored /100, used x100
mix_layers = 3  # the talk head: Linear(2C, C), ReLU, Linear(C, C), ReLU, Linear(C, 1)
mix_bound = 'none'  # the mixing weight is the head's output, unbounded
n_true = 4  # n_ahead_talk
thought_len = 9  # n_ahead = 12: <startofthought> at step 0, thought tokens sampled at steps 1-9, <endofthought> at 10
thoughts_per_position = 2  # n_passes
