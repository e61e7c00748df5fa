//! Whole-module behaviour: training a small MLP, equivalences between presets, Burn's Adam,
//! state save/load, and the block partition of real Burn layers.

use adasharp_optim::{
    AdalayerConfig, AdamEConfig, AdamMiniConfig, BlockRule, GroupRule, PaperAdamConfig,
    PaperRmsPropConfig, RuleSource,
};
use burn::module::{Module, ParamGroup};
use burn::nn::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(4, 8).init(device),
            out: LinearConfig::new(8, 1).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(tanh(self.hidden.forward(x)))
    }
}

fn device() -> Device {
    Device::flex().autodiff()
}

/// A fixed synthetic regression: y = sin(x0) + x1 * x2 - x3 on 32 points.
fn data(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for i in 0..32 {
        let x: Vec<f32> = (0..4)
            .map(|j| (((i * 7 + j * 3) % 11) as f32 - 5.0) / 5.0)
            .collect();
        ys.push(x[0].sin() + x[1] * x[2] - x[3]);
        xs.extend(x);
    }
    (
        Tensor::from_data(TensorData::new(xs, [32, 4]), device),
        Tensor::from_data(TensorData::new(ys, [32, 1]), device),
    )
}

fn loss(model: &Mlp, x: &Tensor<2>, y: &Tensor<2>) -> Tensor<1> {
    (model.forward(x.clone()) - y.clone())
        .powf_scalar(2.0)
        .mean()
}

fn train(mut model: Mlp, optim: &mut ModuleOptimizer, steps: usize, lr: f64) -> Mlp {
    let (x, y) = data(&model.hidden.weight.device());
    for _ in 0..steps {
        let grads = GradientsParams::from_grads(loss(&model, &x, &y).backward(), &model);
        model = optim.step(lr, model, grads);
    }
    model
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

fn flat(model: &Mlp) -> Vec<f32> {
    let mut out = model
        .hidden
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    out.extend(
        model
            .out
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap(),
    );
    out.extend(
        model
            .hidden
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap(),
    );
    out
}

#[test]
fn every_optimizer_lowers_the_loss_of_a_small_mlp() {
    let device = device();
    let (x, y) = data(&device);
    let optimizers: Vec<(&str, ModuleOptimizer)> = vec![
        ("adam-mini", AdamMiniConfig::new().init()),
        ("adalayer", AdalayerConfig::new().init()),
        ("adame-0.25", AdamEConfig::new(0.25).init()),
        ("paper-adam", PaperAdamConfig::new().init()),
        (
            "paper-rmsprop",
            PaperRmsPropConfig::new().with_beta_2(0.99).init(),
        ),
    ];
    for (name, mut optim) in optimizers {
        let model = Mlp::new(&device);
        let before = scalar(loss(&model, &x, &y));
        let model = train(model, &mut optim, 150, 1e-2);
        let after = scalar(loss(&model, &x, &y));
        assert!(after < 0.5 * before, "{name}: loss {before} -> {after}");
    }
}

#[test]
fn adam_mini_with_element_blocks_equals_adam_e_half_equals_paper_adam() {
    let device = device();
    let model = Mlp::new(&device);
    let element = vec![GroupRule {
        group: ParamGroup::all(),
        rule: BlockRule::Element,
    }];
    let mut mini = AdamMiniConfig::new()
        .with_bias_correction(false)
        .with_rules(element)
        .init();
    let mut adam_e = AdamEConfig::new(0.5).with_bias_correction(false).init();
    let mut paper = PaperAdamConfig::new().init();
    let a = flat(&train(model.clone(), &mut mini, 5, 1e-2));
    let b = flat(&train(model.clone(), &mut adam_e, 5, 1e-2));
    let c = flat(&train(model, &mut paper, 5, 1e-2));
    assert_eq!(a, b);
    assert_eq!(b, c);
}

#[test]
fn adalayer_equals_adam_mini_with_whole_tensor_blocks() {
    let device = device();
    let model = Mlp::new(&device);
    let mut mini = AdamMiniConfig::new()
        .with_default_rule(BlockRule::Tensor)
        .init();
    let mut layer = AdalayerConfig::new().init();
    let a = flat(&train(model.clone(), &mut mini, 5, 1e-2));
    let b = flat(&train(model, &mut layer, 5, 1e-2));
    assert_eq!(a, b);
}

#[test]
fn paper_rmsprop_equals_paper_adam_without_momentum() {
    let device = device();
    let model = Mlp::new(&device);
    let mut rms = PaperRmsPropConfig::new().init();
    let mut adam = PaperAdamConfig::new().with_beta_1(0.0).init();
    let a = flat(&train(model.clone(), &mut rms, 5, 1e-2));
    let b = flat(&train(model, &mut adam, 5, 1e-2));
    assert_eq!(a, b);
}

#[test]
fn bias_corrected_paper_adam_matches_burns_adam() {
    // Burn's Adam divides m by (1 - b1^t) and adds eps to sqrt(v / (1 - b2^t)), i.e. the same
    // update as the paper form with bias correction on; only rounding may differ.
    let device = device();
    let model = Mlp::new(&device);
    let mut ours = PaperAdamConfig::new()
        .with_bias_correction(true)
        .with_epsilon(1e-5)
        .init();
    let mut burns = AdamConfig::new().with_epsilon(1e-5).init();
    let a = flat(&train(model.clone(), &mut ours, 20, 1e-2));
    let b = flat(&train(model, &mut burns, 20, 1e-2));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

#[test]
fn saved_state_resumes_exactly() {
    let device = device();
    let configs: Vec<fn() -> ModuleOptimizer> = vec![
        || AdamMiniConfig::new().init(),
        || AdalayerConfig::new().init(),
        || AdamEConfig::new(0.3).init(),
        || PaperRmsPropConfig::new().init(),
    ];
    for make in configs {
        let model = Mlp::new(&device);
        let mut straight = make();
        let expected = flat(&train(model.clone(), &mut straight, 6, 1e-2));

        let mut first = make();
        let halfway = train(model, &mut first, 3, 1e-2);
        let bytes = first.into_bytes().unwrap();
        let mut resumed = make().from_bytes(bytes).unwrap();
        let actual = flat(&train(halfway, &mut resumed, 3, 1e-2));
        assert_eq!(actual, expected);
    }
}

#[derive(Module, Debug)]
struct Tiny {
    embed: Embedding,
    attn: MultiHeadAttention,
    head: Linear,
}

fn tiny(device: &Device) -> Tiny {
    Tiny {
        embed: EmbeddingConfig::new(10, 8).init(device),
        attn: MultiHeadAttentionConfig::new(8, 2).init(device),
        head: LinearConfig::new(8, 3).init(device),
    }
}

#[test]
fn partition_gives_embeddings_rows_and_attention_heads() {
    let model = tiny(&device());
    let report = AdamMiniConfig::new()
        .with_attention_heads(Some(2))
        .partition(&model)
        .unwrap();
    let embed = report.entry("embed.weight").unwrap();
    assert_eq!((embed.rule, embed.num_blocks), (BlockRule::Rows, 10));
    assert_eq!(embed.source, RuleSource::Embedding);
    let query = report.entry("attn.query.weight").unwrap();
    assert_eq!(query.rule, BlockRule::Heads { n_heads: 2 });
    let output = report.entry("attn.output.weight").unwrap();
    assert_eq!((output.rule, output.num_blocks), (BlockRule::Columns, 8));
    let head_bias = report.entry("head.bias").unwrap();
    assert_eq!(head_bias.num_blocks, 1);
    // head.weight [8, 3] with b1 > 0: 24 first-moment values + 3 block values, f32.
    assert_eq!(
        report.entry("head.weight").unwrap().state_bytes,
        (24 + 3) * 4
    );
}

#[test]
fn partition_flags_attention_without_heads() {
    let report = AdamMiniConfig::new().partition(&tiny(&device())).unwrap();
    let query = report.entry("attn.value.weight").unwrap();
    assert_eq!(query.source, RuleSource::Default);
    assert!(query.note.as_deref().unwrap().contains("attention_heads"));
}

#[test]
fn heads_that_do_not_divide_the_width_are_rejected_with_the_path() {
    let err = AdamMiniConfig::new()
        .with_attention_heads(Some(3))
        .partition(&tiny(&device()))
        .unwrap_err();
    assert_eq!(err.field, "n_heads");
    assert!(err.value.contains("attn.query.weight"), "{err}");
}

#[test]
fn init_for_applies_the_reported_rules_during_training() {
    // The saved second moment of each parameter has as many values as the report's blocks.
    let device = device();
    let model = tiny(&device);
    let config = AdamMiniConfig::new().with_attention_heads(Some(2));
    let report = config.partition(&model).unwrap();
    let mut optim = config.init_for(&model);

    let ids = Tensor::<2, burn::tensor::Int>::from_data([[1, 2, 3], [4, 5, 6]], &device);
    let h = model.embed.forward(ids);
    let h = model
        .attn
        .forward(burn::nn::attention::MhaInput::self_attn(h))
        .context;
    let loss = model.head.forward(h).powf_scalar(2.0).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let _ = optim.step(1e-3, model, grads);

    let moments = adasharp_optim::second_moments(&optim).unwrap();
    for entry in &report.entries {
        let v = moments.get(&entry.param.id);
        let v = v.unwrap_or_else(|| panic!("no state for {}", entry.param.path));
        assert_eq!(v.num_elements(), entry.num_blocks, "{}", entry.param.path);
    }
}

#[test]
fn invalid_hyperparameters_are_rejected_when_built() {
    let err = AdamMiniConfig::new()
        .with_beta_1(1.0)
        .try_init()
        .err()
        .unwrap();
    assert_eq!((err.field, err.value.as_str()), ("beta_1", "1"));
    let err = AdamEConfig::new(1.0).try_build().unwrap_err();
    assert_eq!(err.field, "lambda");
    let err = AdalayerConfig::new()
        .with_epsilon(0.0)
        .try_build()
        .unwrap_err();
    assert_eq!(err.field, "epsilon");
    let err = PaperRmsPropConfig::new()
        .with_beta_2(-0.1)
        .try_build()
        .unwrap_err();
    assert_eq!(err.field, "beta_2");
    let err = PaperAdamConfig::new()
        .with_weight_decay(f64::NAN)
        .try_build()
        .unwrap_err();
    assert_eq!(err.field, "weight_decay");
    let err = AdamMiniConfig::new()
        .with_attention_heads(Some(0))
        .try_init()
        .err()
        .unwrap();
    assert_eq!(err.field, "attention_heads");
}

#[test]
fn a_non_finite_gradient_is_skipped_and_named() {
    let device = device();
    let model = Mlp::new(&device);
    let before = flat(&model);
    let mut grads = GradientsParams::new();
    let nan = Tensor::<2>::random([4, 8], Distribution::Default, &device).div_scalar(0.0);
    grads.register(model.hidden.weight.id, nan);

    let found = adasharp_optim::find_non_finite(&model, &grads).unwrap();
    assert_eq!(found.path, "hidden.weight");

    let mut optim = AdamMiniConfig::new().init();
    let after = optim.step(1e-2, model, grads);
    assert_eq!(flat(&after), before);
}
