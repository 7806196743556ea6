"""
The rate model and the rule vs backprop
---------------------------------------
A 20-30-10 network (input x, hidden h_1, output y) relaxes to its free fixed point; the output is then
nudged toward a target with strength beta (Eq 13) and the rule of Eq 26 is integrated along the nudged
phase. Its weight change is compared, layer by layer, with -dC/dW from implicit differentiation of
the free fixed point (independent code). As beta -> 0 the cosine -> 1 and the norm ratio -> 1.
"""
import numpy as np

import stdp_ebm as se


def main(sizes=(20, 30, 10), betas=(0.1, 0.01, 0.001), batch=8, seed=1):
    rng = se.Seeds(seed).rng("network")
    net = se.random_network(list(sizes), rng, init_scale=0.3, bias_low=0.2, bias_high=0.6)
    x = rng.uniform(0, 1, (batch, sizes[0]))
    target = rng.uniform(0, 1, (batch, sizes[-1]))
    model = se.RateModel(net, se.HardSigmoid(), epsilon=0.5)
    free = model.free_phase(x, tol=1e-12)
    reference = se.implicit_neg_grad(net, model.rho, free.s, target)
    rows = []
    for beta in betas:
        rule = se.RuleAccumulator(model.rho, net.sizes)
        model.nudged_phase(free.s, target, beta, tol=1e-12, on_step=rule)
        al = se.layer_alignment(rule.delta_w(beta, "sym"), reference)
        rows.append((beta, min(al["cos"]), max(abs(r - 1) for r in al["norm_ratio"])))
        print(f"beta = {beta:<6g} min cos over W_k = {rows[-1][1]:.6f}   "
              f"max |norm ratio - 1| = {rows[-1][2]:.2e}")
    return np.array(rows)


if __name__ == "__main__":
    main()
