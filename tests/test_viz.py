"""cg.viz: the DOT text has a node per tensor and per op and an edge per use."""

import os
import re
import stat

import cgrad as cg
import cgrad.viz as viz


def edges(dot):
    return re.findall(r"^\s*(\w+) -> (\w+)", dot, flags=re.M)


def node_id(dot, label_start):
    for line in dot.splitlines():
        m = re.match(r'\s*(\w+) \[.*label="([^"]*)"', line)
        if m and m.group(2).startswith(label_start):
            return m.group(1)
    raise AssertionError(f"no node labelled {label_start!r} in\n{dot}")


def test_x_plus_x_has_two_edges_from_x():
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    x.name = "x"
    dot = viz.to_dot(x + x)
    xid = node_id(dot, "x")
    out_edges = [e for e in edges(dot) if e[0] == xid]
    assert len(out_edges) == 2
    assert out_edges[0][1] == out_edges[1][1]  # both into the one add
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")


def test_nodes_for_tensors_and_ops_with_name_shape_dtype_value():
    w = cg.tensor([[0.5, -1.0]], dtype=cg.float64, requires_grad=True)
    w.name = "w"
    big = cg.randn(10, 2)
    y = (big @ w.T).relu().sum()
    dot = viz.to_dot(y)
    ops = re.findall(r'shape=box.*label="(\w+)', dot)
    assert sorted(ops) == sorted(["permute", "matmul", "relu", "sum"])
    wl = re.search(r'label="(w\\n[^"]*)"', dot).group(1)
    assert "(1, 2)" in wl and "float64" in wl and "0.5" in wl and "-1" in wl
    bl = next(line for line in dot.splitlines() if "(10, 2) float32" in line)
    assert "=" not in bl.split("label=")[1]  # 20 elements: no values
    # one edge per input use (permute 1, matmul 2, relu 1, sum 1) + one per op output
    assert len(edges(dot)) == 5 + 4


def test_skip_connection_fanout_shows():
    w0, w1, ws = (cg.tensor(0.5, requires_grad=True) for _ in range(3))
    h0 = (w0 * 1.0).relu()
    h0.name = "h0"
    y = ws * h0 + w1 * h0
    dot = viz.to_dot(y)
    hid = node_id(dot, "h0")
    assert len([e for e in edges(dot) if e[0] == hid]) == 2


def test_module_names_label_parameters():
    lin = cg.nn.Linear(3, 2)
    dot = viz.to_dot(lin(cg.randn(4, 3)).sum(), names=lin)
    assert 'label="weight\\n(2, 3) float32' in dot
    assert 'label="bias\\n(2,) float32' in dot


def test_render_without_graphviz_writes_dot_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    x = cg.tensor([1.0], requires_grad=True)
    path = viz.render(x * 2, tmp_path / "g.svg")
    assert path == str(tmp_path / "g.dot")
    assert open(path).read().startswith("digraph cgrad {")
    assert "Graphviz 'dot' was not found" in capsys.readouterr().out
    assert not (tmp_path / "g.svg").exists()


def test_render_calls_dot_when_present(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n# fake graphviz: record the args, copy stdin to the -o file\n"
        f'echo "$@" > {tmp_path}/args\n'
        'while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done\n'
        'cat > "$out"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    x = cg.tensor([1.0], requires_grad=True)
    out = viz.render(x.exp(), tmp_path / "g.png")
    assert out == str(tmp_path / "g.png")
    assert "-Tpng" in (tmp_path / "args").read_text()
    assert (tmp_path / "g.png").read_text().startswith("digraph")


def test_freed_graph_is_marked():
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    dot = viz.to_dot(y)
    assert "(freed)" in dot
