"""eegclf.models: the study's EEGNet/DeepConvNet against SYSTEM.md §2, the registry, activations, max-norm."""

import json
import re

import pytest
import torch
from torch import nn

import eegclf.models as models
from eegclf.errors import ConfigError
from eegclf.models import create_model, is_classical, list_models
from eegclf.models.activations import SafeLog, Square, list_activations

torch.set_num_threads(1)

DEEP = ["deepconvnet", "eegnet", "eegnet_8_2", "shallowconvnet"]
ACTS = ["relu", "leaky_relu", "elu", "gelu", "silu"]
ACT_CLASSES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}
SIZES = [(2, 750), (3, 1000), (64, 656)]
# activation sites per model (each must be its own module)
N_ACT_SITES = {"eegnet": 2, "eegnet_8_2": 2, "deepconvnet": 4, "shallowconvnet": 1}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def leaves(model: nn.Module) -> list:
    return [m for m in model.modules() if not list(m.children())]


def check_layer(module, cls, **attrs):
    """module is a cls whose attributes equal attrs (bias=True/False means 'has a bias')."""
    assert type(module) is cls, f"{module!r} is not a {cls.__name__}"
    for key, want in attrs.items():
        got = (module.bias is not None) if key == "bias" else getattr(module, key)
        assert got == want, f"{module!r}: {key}={got!r}, expected {want!r}"


# ---- 1. parameter counts ----

def test_parameter_counts_match_the_spec():
    assert n_params(create_model("eegnet", 2, 750, 2)) == 17_874
    assert n_params(create_model("deepconvnet", 2, 750, 2)) == 150_977


def test_parameter_counts_of_the_second_family_members():
    # EEGNet-8,2 at C=2, T=750: conv 8*64 + BN 16 + depthwise 16*2 + BN 32 + separable 16*16 + 16*16 + BN 32
    # + dense (16 * floor(floor(750/4)/8) = 368) * 2 + 2
    assert n_params(create_model("eegnet_8_2", 2, 750, 2)) == 512 + 16 + 32 + 32 + 256 + 256 + 32 + 368 * 2 + 2
    # ShallowConvNet: conv 40*25+40, spatial 40*40*2, BN 80; length (750-24-75)//15+1 = 44 -> dense 1760*2+2
    assert n_params(create_model("shallowconvnet", 2, 750, 2)) == 1040 + 3200 + 80 + 1760 * 2 + 2


# ---- 2. the study's blocks, checked against the spec tables ----

def test_eegnet_blocks_match_the_spec():
    C, T = 2, 750
    model = create_model("EEGNet", C, T, 2, activation="leaky_relu")
    names = [n for n, _ in model.named_children()]
    assert [n for n in names if n != "flatten"] == ["firstconv", "depthwiseConv", "separableConv", "classify"]
    first, dw, sep, cls = model.firstconv, model.depthwiseConv, model.separableConv, model.classify
    assert len(first) == 2 and len(dw) == 5 and len(sep) == 5
    check_layer(first[0], nn.Conv2d, in_channels=1, out_channels=16, kernel_size=(1, 51), padding=(0, 25),
                groups=1, bias=False)
    check_layer(first[1], nn.BatchNorm2d, num_features=16, eps=1e-5, momentum=0.1)
    check_layer(dw[0], nn.Conv2d, in_channels=16, out_channels=32, kernel_size=(C, 1), padding=(0, 0),
                groups=16, bias=False)
    check_layer(dw[1], nn.BatchNorm2d, num_features=32, eps=1e-5, momentum=0.1)
    check_layer(dw[2], nn.LeakyReLU, negative_slope=0.01)
    check_layer(dw[3], nn.AvgPool2d, kernel_size=(1, 4))
    check_layer(dw[4], nn.Dropout, p=0.25)
    check_layer(sep[0], nn.Conv2d, in_channels=32, out_channels=32, kernel_size=(1, 15), padding=(0, 7),
                groups=1, bias=False)
    check_layer(sep[1], nn.BatchNorm2d, num_features=32, eps=1e-5, momentum=0.1)
    check_layer(sep[2], nn.LeakyReLU, negative_slope=0.01)
    check_layer(sep[3], nn.AvgPool2d, kernel_size=(1, 8))
    check_layer(sep[4], nn.Dropout, p=0.25)
    # classify: Flatten; Linear(32 x floor(floor(T/4)/8), n_classes) = Linear(736, 2)
    types = [type(m) for m in leaves(model)]
    assert types.index(nn.Flatten) == len(types) - 2
    check_layer(cls[0], nn.Linear, in_features=32 * ((T // 4) // 8), out_features=2, bias=True)
    assert cls[0].in_features == 736
    assert "firstconv" in repr(model) and "LeakyReLU" in repr(model)


def _deep_length(T):
    """The time length before the flatten, from the spec table: four times a valid conv of 5, a pool of 2."""
    t = T
    for _ in range(4):
        t = (t - 4) // 2
    return t


@pytest.mark.parametrize("C,T", [(2, 750), (3, 1000)])
def test_deepconvnet_layers_match_the_spec(C, T):
    model = create_model("DeepConvNet", C, T, 2, activation="relu")
    convs = [(1, 25, (1, 5)), (25, 25, (C, 1)), (25, 50, (1, 5)), (50, 100, (1, 5)), (100, 200, (1, 5))]
    seq = leaves(model)
    expected_types = [nn.Conv2d] + [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Dropout] * 4
    expected_types += [nn.Flatten, nn.Linear]
    assert [type(m) for m in seq] == expected_types
    conv_mods = [m for m in seq if isinstance(m, nn.Conv2d)]
    for mod, (cin, cout, k) in zip(conv_mods, convs):
        check_layer(mod, nn.Conv2d, in_channels=cin, out_channels=cout, kernel_size=k, padding=(0, 0),
                    groups=1, stride=(1, 1), bias=True)
    for bn, n in zip([m for m in seq if isinstance(m, nn.BatchNorm2d)], [25, 50, 100, 200]):
        check_layer(bn, nn.BatchNorm2d, num_features=n, eps=1e-5, momentum=0.1)
    for pool in [m for m in seq if isinstance(m, nn.MaxPool2d)]:
        assert pool.kernel_size == (1, 2) and pool.stride == (1, 2)
    for drop in [m for m in seq if isinstance(m, nn.Dropout)]:
        assert drop.p == 0.5
    check_layer(seq[-1], nn.Linear, in_features=200 * _deep_length(T), out_features=2, bias=True)
    if T == 750:
        assert seq[-1].in_features == 8600  # 200 x 43, as the spec says


@pytest.mark.parametrize("name", DEEP)
def test_first_conv_is_the_temporal_one(name):
    first = next(m for m in create_model(name, 3, 750).modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1 and first.kernel_size[0] == 1 and first.kernel_size[1] > 1


def test_eegnet_8_2_is_the_published_network():
    C, T = 4, 512
    model = create_model("EEGNet-8,2", C, T, 3, kernel_length=32)
    first, dw, sep = model.firstconv, model.depthwiseConv, model.separableConv
    check_layer(first[0], nn.ZeroPad2d, padding=(15, 16, 0, 0))  # Keras "same": the extra zero on the right
    check_layer(first[1], nn.Conv2d, in_channels=1, out_channels=8, kernel_size=(1, 32), bias=False)
    check_layer(dw[0], nn.Conv2d, in_channels=8, out_channels=16, kernel_size=(C, 1), groups=8, bias=False)
    check_layer(sep[0], nn.ZeroPad2d, padding=(7, 8, 0, 0))
    check_layer(sep[1], nn.Conv2d, in_channels=16, out_channels=16, kernel_size=(1, 16), groups=16, bias=False)
    check_layer(sep[2], nn.Conv2d, in_channels=16, out_channels=16, kernel_size=(1, 1), groups=1, bias=False)
    pools = [m for m in model.modules() if isinstance(m, nn.AvgPool2d)]
    assert [p.kernel_size for p in pools] == [(1, 4), (1, 8)]
    check_layer(model.classify[0], nn.Linear, in_features=16 * (T // 4 // 8), out_features=3)
    # "same" padding keeps the length through the temporal convs, even for an even kernel
    x = torch.randn(2, 1, C, T)
    assert model.firstconv.eval()(x).shape == (2, 8, C, T)
    assert model.separableConv[:3](torch.randn(2, 16, 1, 50)).shape == (2, 16, 1, 50)


def test_shallowconvnet_is_the_published_network():
    C, T = 3, 500
    model = create_model("ShallowConvNet", C, T, 4)
    seq = leaves(model)
    assert [type(m) for m in seq] == [nn.Conv2d, nn.Conv2d, nn.BatchNorm2d, Square, nn.AvgPool2d, SafeLog,
                                      nn.Dropout, nn.Flatten, nn.Linear]
    check_layer(seq[0], nn.Conv2d, in_channels=1, out_channels=40, kernel_size=(1, 25), bias=True)
    check_layer(seq[1], nn.Conv2d, in_channels=40, out_channels=40, kernel_size=(C, 1), bias=False)
    assert seq[4].kernel_size == (1, 75) and seq[4].stride == (1, 15)
    assert seq[-1].in_features == 40 * ((T - 24 - 75) // 15 + 1)
    assert model.config["activation"] == "square"
    relu = create_model("ShallowConvNet", C, T, 4, activation="relu")
    assert isinstance(relu.nonlin, nn.ReLU) and isinstance(relu.pool_nonlin, SafeLog)


# ---- 3. every model x every activation x every size, train and eval ----

@pytest.mark.parametrize("C,T", SIZES)
@pytest.mark.parametrize("act", ACTS + ["default"])
@pytest.mark.parametrize("name", DEEP)
def test_forward_every_model_activation_size(name, act, C, T):
    torch.manual_seed(0)
    model = create_model(name, C, T, 3, **({} if act == "default" else {"activation": act}))
    x = torch.randn(2, 1, C, T)
    model.train()
    out = model(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_registry_lists_every_model():
    assert set(DEEP) == set(list_models("deep"))
    assert list_models() == sorted(set(DEEP) | set(models.CLASSICAL_MODELS))
    assert list_models("classical") == sorted(models.CLASSICAL_MODELS)
    assert set(ACTS) == set(list_activations())


@pytest.mark.parametrize("alias,key", [("EEGNet", "eegnet"), ("eegnet", "eegnet"), ("DeepConvNet", "deepconvnet"),
                                       ("eegnet_8_2", "eegnet_8_2"), ("EEGNet-8,2", "eegnet_8_2"),
                                       ("shallowconvnet", "shallowconvnet"), ("ShallowConvNet", "shallowconvnet")])
def test_names_are_case_insensitive(alias, key):
    model = create_model(alias, 2, 750, 2)
    assert model.model_name == key and not is_classical(alias)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", DEEP)
def test_models_trace_and_script(name):
    model = create_model(name, 2, 300, 2).eval()
    x = torch.randn(2, 1, 2, 300)
    with torch.no_grad():
        ref = model(x)
        assert torch.allclose(torch.jit.trace(model, x)(x), ref, atol=1e-5)
        assert torch.allclose(torch.jit.script(model)(x), ref, atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", DEEP)
def test_models_export_to_onnx(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = create_model(name, 2, 300, 2).eval()
    x = torch.randn(3, 1, 2, 300)
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    out = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(out), model(x), atol=1e-4)


# ---- 4. max-norm ----

def _expected_bounds(name, model):
    """Parameter name -> bound, as the spec / papers state them, found by layer type (not by name)."""
    out = {}
    for mod_name, mod in model.named_modules():
        key = f"{mod_name}.weight"
        if name in ("deepconvnet", "shallowconvnet"):
            if isinstance(mod, nn.Conv2d):
                out[key] = 2.0
            elif isinstance(mod, nn.Linear):
                out[key] = 0.5
        elif name == "eegnet_8_2":
            if isinstance(mod, nn.Conv2d) and mod.in_channels == 8 and mod.kernel_size[1] == 1 \
                    and mod.kernel_size[0] > 1:
                out[key] = 1.0  # the depthwise spatial kernel
            elif isinstance(mod, nn.Linear):
                out[key] = 0.25
    return out


@pytest.mark.parametrize("name", ["deepconvnet", "eegnet_8_2", "shallowconvnet"])
def test_max_norm_holds_after_a_huge_step(name):
    torch.manual_seed(0)
    model = create_model(name, 3, 400, 2)
    bounds = _expected_bounds(name, model)
    assert model.constraint_bounds() == bounds
    opt = torch.optim.SGD(model.parameters(), lr=1e4)
    x, y = torch.randn(8, 1, 3, 400), torch.tensor([0, 1] * 4)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    params = dict(model.named_parameters())
    norms = {k: params[k].detach().flatten(1).norm(dim=1) for k in bounds}
    assert any((norms[k] > b).any() for k, b in bounds.items())  # the step did break the bounds
    model.apply_constraints()
    for k, b in bounds.items():
        assert (params[k].detach().flatten(1).norm(dim=1) <= b * (1 + 1e-5)).all(), k


@pytest.mark.parametrize("name", DEEP)
def test_max_norm_can_be_switched_off(name):
    model = create_model(name, 2, 300, 2, max_norm=False)
    assert model.constraint_bounds() == {} and model.config["max_norm"] is False
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1000.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.apply_constraints()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_study_eegnet_has_no_constraints():
    model = create_model("eegnet", 2, 750)
    assert model.constraint_bounds() == {}
    model.apply_constraints()  # a no-op, but callable


# ---- names, activations, configs, sizes ----

def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        create_model("resnet", 2, 750)
    assert isinstance(info.value, ConfigError)
    for name in DEEP:
        assert name in str(info.value)
    assert not is_classical("resnet")


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        create_model("eegnet", 2, 750, activation="swish")
    for act in ACTS:
        assert act in str(info.value)
    with pytest.raises(ConfigError):
        create_model("deepconvnet", 2, 750, activation="relu", activation_kwargs={"alpha": 2.0})
    with pytest.raises(ConfigError):
        create_model("deepconvnet", 2, 750, activation=nn.ReLU())  # an instance, not a class


def test_unknown_option_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="kernel_length"):
        create_model("eegnet", 2, 750, kernal_length=3)
    with pytest.raises(ConfigError, match="dropout"):
        create_model("eegnet", 2, 750, dropout=1.5)
    with pytest.raises(ConfigError, match="max_norm"):
        create_model("deepconvnet", 2, 750, max_norm="yes")
    with pytest.raises(ConfigError, match="n_chans"):
        create_model("deepconvnet", 0, 750)
    with pytest.raises(ConfigError):
        list_models("quantum")
    assert create_model("deepconvnet", 2, 750, dropout=None).config["dropout"] == 0.5


@pytest.mark.parametrize("name", DEEP)
def test_activation_instances_are_distinct(name):
    model = create_model(name, 2, 750, activation="elu", activation_kwargs={"alpha": 0.5})
    acts = [m for m in model.modules() if isinstance(m, nn.ELU)]
    assert len(acts) == N_ACT_SITES[name]
    assert len({id(a) for a in acts}) == len(acts)
    assert all(a.alpha == 0.5 for a in acts)


def test_activation_by_class_and_settings():
    model = create_model("eegnet", 2, 750, activation=nn.LeakyReLU, activation_kwargs={"negative_slope": 0.2})
    acts = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 2 and all(a.negative_slope == 0.2 for a in acts)
    assert model.config["activation"] == "leaky_relu"
    assert create_model("eegnet", 2, 750, activation="LeakyReLU").config["activation"] == "leaky_relu"


@pytest.mark.parametrize("name", DEEP)
def test_rebuild_from_config(name):
    model = create_model(name, 3, 640, 4, activation="leaky_relu", activation_kwargs={"negative_slope": 0.1},
                         dropout=0.3, max_norm=False)
    config = json.loads(json.dumps(model.config))  # JSON-serialisable
    for key in ("n_chans", "n_times", "n_outputs", "activation", "dropout", "max_norm"):
        assert key in config
    clone = create_model(model.model_name, **config)
    assert n_params(clone) == n_params(model)
    assert repr(clone) == repr(model)
    assert clone.config == model.config
    clone.load_state_dict(model.state_dict())  # same architecture, same keys and shapes


@pytest.mark.parametrize("name", DEEP)
def test_too_short_input_names_the_minimum(name):
    with pytest.raises(ConfigError, match=r"n_times >= (\d+)") as info:
        create_model(name, 2, 20)
    minimum = int(re.search(r"n_times >= (\d+)", str(info.value)).group(1))
    model = create_model(name, 2, minimum).eval()
    assert model(torch.randn(2, 1, 2, minimum)).shape == (2, 2)
    with pytest.raises(ConfigError):
        create_model(name, 2, minimum - 1)


def test_deepconvnet_minimum_length_follows_the_table():
    # valid convs of 5 and pools of 2, four times: 76 -> 72 -> 36 -> 32 -> 16 -> 12 -> 6 -> 2 -> 1
    create_model("deepconvnet", 2, 76)
    with pytest.raises(ConfigError, match="n_times >= 76"):
        create_model("deepconvnet", 2, 75)


def test_classical_names_route_to_classical_models(monkeypatch):
    class Fake:
        def __init__(self, n_chans, n_times, n_outputs=2, **kwargs):
            self.args = (n_chans, n_times, n_outputs, kwargs)

    monkeypatch.setitem(models.CLASSICAL_MODELS, "fake_clf", Fake)
    assert is_classical("Fake_CLF") and "fake_clf" in list_models("classical") and "fake_clf" in list_models()
    made = create_model("FAKE_CLF", 3, 100, 4, shrinkage=0.1)
    assert isinstance(made, Fake) and made.args == (3, 100, 4, {"shrinkage": 0.1})
    for key in models.CLASSICAL_MODELS:
        assert is_classical(key)
