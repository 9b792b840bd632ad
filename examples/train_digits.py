"""Train a 64-128-64-10 ReLU MLP on scikit-learn's 8x8 digits with cgrad.

    make demo                                   # installs the examples extra, runs this
    .venv/bin/python examples/train_digits.py   # the same, once the extra is installed

The data set ships inside scikit-learn (no download): 1797 images of 8x8
pixels with values 0..16, ten classes. A fixed-seed split keeps 20% for
testing. The model is trained with cross-entropy and Adam, saved with
cg.save, reloaded into a fresh model (which must predict identically), and
the loss and accuracy curves are written to examples/out/digits.png.
"""

import argparse
import os
import sys
import time

import numpy as np

import cgrad as cg
import cgrad.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def need(module, what):
    try:
        return __import__(module)
    except ImportError:
        sys.exit(f"train_digits.py needs {what}: pip install -e '.[examples]' (or `make demo`)")


def build():
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


@cg.no_grad()
def evaluate(model, x, y):
    """(mean cross-entropy, accuracy) on a whole split."""
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    acc = float((logits.argmax(dim=1).numpy() == y.numpy()).mean())
    return loss, acc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="where the PNG and weights go")
    args = ap.parse_args(argv)

    need("sklearn", "scikit-learn")
    tqdm = need("tqdm", "tqdm").tqdm
    need("matplotlib", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)  # pixels 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=args.seed, stratify=y)
    xtr, xte = cg.tensor(Xtr), cg.tensor(Xte)
    ttr, tte = cg.tensor(ytr, dtype=cg.int64), cg.tensor(yte, dtype=cg.int64)
    print(
        f"cgrad {cg.__version__} (backend {cg.get_backend()!r}, {cg.get_num_threads()} threads); "
        f"digits: {len(ytr)} train / {len(yte)} test images of 8x8 pixels"
    )

    cg.manual_seed(args.seed)
    model = build()
    opt = cg.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    hist = {"train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []}

    bar = tqdm(range(1, args.epochs + 1), desc="training", unit="epoch", file=sys.stdout)
    for _epoch in bar:
        model.train()
        order = rng.permutation(len(ytr))
        for s in range(0, len(order), args.batch_size):
            idx = order[s : s + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ttr[idx])
            loss.backward()
            opt.step()
        model.eval()
        trl, tra = evaluate(model, xtr, ttr)
        tel, tea = evaluate(model, xte, tte)
        for k, v in zip(hist, (trl, tel, tra, tea)):
            hist[k].append(v)
        bar.set_postfix(loss=f"{trl:.4f}", train_acc=f"{tra:.3f}", test_acc=f"{tea:.3f}")
    bar.close()

    test_loss, test_acc = hist["test_loss"][-1], hist["test_acc"][-1]
    print(
        f"test accuracy: {test_acc:.2%} ({round(test_acc * len(yte))}/{len(yte)}), "
        f"test loss {test_loss:.4f}"
    )

    # save, reload into a fresh model, and check it predicts identically
    os.makedirs(args.out, exist_ok=True)
    wpath = os.path.join(args.out, "digits_mlp.npz")
    cg.save(model.state_dict(), wpath)
    fresh = build()
    fresh.load_state_dict(cg.load(wpath))
    fresh.eval()
    with cg.no_grad():
        same = np.array_equal(model(xte).numpy(), fresh(xte).numpy())
    print(
        f"saved the weights to {wpath}; the reloaded model's logits are "
        f"{'identical' if same else 'DIFFERENT'}"
    )
    if not same:
        sys.exit("reloaded model does not predict identically")

    # the curves
    ep = np.arange(1, args.epochs + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(ep, hist["train_loss"], label="train")
    a1.plot(ep, hist["test_loss"], label="test")
    a1.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    a1.legend()
    a2.plot(ep, hist["train_acc"], label="train")
    a2.plot(ep, hist["test_acc"], label="test")
    a2.axhline(0.95, color="grey", ls=":", lw=1, label="95%")
    a2.set(
        xlabel="epoch",
        ylabel="accuracy",
        title=f"accuracy (test {test_acc:.1%})",
        ylim=(0.8, 1.005),
    )
    a2.legend(loc="lower right")
    fig.suptitle("cgrad: 64-128-64-10 ReLU MLP on the 8x8 digits (Adam, cross-entropy)")
    fig.tight_layout()
    png = os.path.join(args.out, "digits.png")
    fig.savefig(png, dpi=110)
    plt.close(fig)
    print(f"wrote the loss and accuracy curves to {png}")
    print(f"total time {time.perf_counter() - t0:.1f} s")
    if test_acc < 0.95:
        sys.exit(f"test accuracy {test_acc:.2%} is below 95%")
    return {"test_acc": test_acc, "hist": hist, "same": same, "png": png, "weights": wpath}


if __name__ == "__main__":
    main()
