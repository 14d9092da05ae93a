#include "models/gan_trainer.h"

#include "base/check.h"
#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"

#include <fmt/format.h>

#include <cstdlib>
#include <utility>

namespace cxr {

namespace {

std::string hex(double x) {
  return fmt::format("{:a}", x);
}

const std::string& field(const std::map<std::string, std::string>& metadata, const std::string& key,
                         const std::string& path) {
  const auto it = metadata.find(key);
  CXR_CHECK(it != metadata.end(), "{}: not a GAN checkpoint (no '{}' in its metadata)", path, key);
  return it->second;
}

double number(const std::map<std::string, std::string>& metadata, const std::string& key, const std::string& path) {
  const std::string& text = field(metadata, key, path);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  CXR_CHECK(!text.empty() && *end == '\0', "{}: metadata '{}' = '{}' is not a number", path, key, text);
  return value;
}

std::uint64_t unsigned_number(const std::map<std::string, std::string>& metadata, const std::string& key,
                              const std::string& path) {
  const std::string& text = field(metadata, key, path);
  char* end = nullptr;
  const std::uint64_t value = std::strtoull(text.c_str(), &end, 10);
  CXR_CHECK(!text.empty() && *end == '\0', "{}: metadata '{}' = '{}' is not an unsigned integer", path, key, text);
  return value;
}

void copy_checked(Tensor& to, const SafetensorsFile& file, const std::string& name) {
  const Tensor& from = file.at(name);
  CXR_CHECK(from.shape() == to.shape(), "{}: tensor '{}' has {} elements, the model {}", file.path, name, from.numel(),
            to.numel());
  to.copy_(from);
}

double mean_sigmoid(const Tensor& logits) {
  double sum = 0;
  for (const double v : logits.to_vector()) sum += 1.0 / (1.0 + std::exp(-v));
  return sum / static_cast<double>(logits.numel());
}

}  // namespace

GanTrainer::GanTrainer(const GanConfig& config, const GanTrainOptions& options)
    : config_(config),
      options_(options),
      generator_(std::make_unique<GanGenerator>(config)),
      discriminator_(std::make_unique<GanDiscriminator>(config)),
      g_params_(std::make_unique<ParameterSet>(*generator_, options.seed)),
      d_params_(std::make_unique<ParameterSet>(*discriminator_, options.seed + 1)),
      rng_(options.seed + 2) {
  CXR_CHECK(options.batch_size >= 2, "GAN: batch size {} must be >= 2 (batch norm needs two images)",
            options.batch_size);
  CXR_CHECK(
      options.lr > 0 && options.beta1 >= 0 && options.beta1 < 1 && options.real_label > 0 && options.real_label <= 1,
      "GAN: lr {} must be > 0, beta1 {} in [0, 1), real label {} in (0, 1]", options.lr, options.beta1,
      options.real_label);
  const AdamWOptions adam{.lr = options.lr, .beta1 = options.beta1, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0};
  g_opt_ = std::make_unique<AdamW>(*g_params_, adam);
  d_opt_ = std::make_unique<AdamW>(*d_params_, adam);
}

Tensor GanTrainer::latents(std::int64_t n) {
  Tensor z = Tensor::empty({n, config_.latent});
  float* p = z.data<float>();
  for (std::int64_t i = 0; i < z.numel(); ++i) p[i] = static_cast<float>(rng_.normal());
  return z;
}

GanStepResult GanTrainer::step(const Tensor& images) {
  const int s = config_.image_size;
  CXR_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == s && images.size(3) == s &&
                images.size(0) >= 1 && images.dtype() == DType::F32,
            "GAN: training images have shape {}, expected float32 [M, 1, {}, {}]", images.str(), s, s);
  const std::int64_t n = options_.batch_size;
  const std::int64_t plane = static_cast<std::int64_t>(s) * s;
  Tensor real = Tensor::empty({n, 1, s, s});
  for (std::int64_t i = 0; i < n; ++i) {
    const float* src = images.data<float>() + static_cast<std::int64_t>(rng_.below(images.size(0))) * plane;
    std::copy(src, src + plane, real.data<float>() + i * plane);
  }
  generator_->train();
  discriminator_->train();
  GanStepResult result;

  Tensor fake;
  {
    NoGradGuard frozen_generator;
    fake = generator_->forward(latents(n));
  }
  d_params_->zero_grad();
  const Tensor real_logits = discriminator_->forward(real);
  const Tensor fake_logits = discriminator_->forward(fake);
  const Tensor d_loss =
      add(binary_cross_entropy_with_logits(real_logits, Tensor::full(real_logits.shape(), options_.real_label)),
          binary_cross_entropy_with_logits(fake_logits, Tensor::zeros(fake_logits.shape())));
  d_loss.backward();
  d_opt_->step();
  result.discriminator_loss = d_loss.item();
  result.real_score = mean_sigmoid(real_logits);
  result.fake_score = mean_sigmoid(fake_logits);

  g_params_->zero_grad();
  const Tensor g_logits = discriminator_->forward(generator_->forward(latents(n)));
  const Tensor g_loss = binary_cross_entropy_with_logits(g_logits, Tensor::ones(g_logits.shape()));
  g_loss.backward();  // also fills the discriminator's gradients, cleared before its next step
  g_opt_->step();
  result.generator_loss = g_loss.item();
  ++step_;
  return result;
}

void GanTrainer::save(const std::string& path, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> metadata = extra;
  metadata["format"] = std::string(kGanFormat);
  metadata["version"] = std::to_string(1);
  metadata["image_size"] = std::to_string(config_.image_size);
  metadata["latent"] = std::to_string(config_.latent);
  metadata["generator_width"] = std::to_string(config_.generator_width);
  metadata["discriminator_width"] = std::to_string(config_.discriminator_width);
  metadata["batch_size"] = std::to_string(options_.batch_size);
  metadata["lr"] = hex(options_.lr);
  metadata["beta1"] = hex(options_.beta1);
  metadata["real_label"] = hex(options_.real_label);
  metadata["seed"] = std::to_string(options_.seed);
  metadata["step"] = std::to_string(step_);
  metadata["rng_state"] = std::to_string(rng_.state());
  save_safetensors(path,
                   {{"generator.values", g_params_->values()},
                    {"generator.buffers", g_params_->buffer_values()},
                    {"generator.exp_avg", g_opt_->exp_avg()},
                    {"generator.exp_avg_sq", g_opt_->exp_avg_sq()},
                    {"discriminator.values", d_params_->values()},
                    {"discriminator.buffers", d_params_->buffer_values()},
                    {"discriminator.exp_avg", d_opt_->exp_avg()},
                    {"discriminator.exp_avg_sq", d_opt_->exp_avg_sq()}},
                   metadata);
  metadata_ = std::move(metadata);
}

GanTrainer GanTrainer::load(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto& m = file.metadata;
  CXR_CHECK(field(m, "format", path) == kGanFormat, "{}: format is '{}', expected {}", path, field(m, "format", path),
            kGanFormat);
  CXR_CHECK(field(m, "version", path) == "1", "{}: GAN checkpoint version {} is not supported", path,
            field(m, "version", path));
  GanConfig config;
  config.image_size = static_cast<int>(unsigned_number(m, "image_size", path));
  config.latent = static_cast<int>(unsigned_number(m, "latent", path));
  config.generator_width = static_cast<int>(unsigned_number(m, "generator_width", path));
  config.discriminator_width = static_cast<int>(unsigned_number(m, "discriminator_width", path));
  GanTrainOptions options;
  options.batch_size = static_cast<int>(unsigned_number(m, "batch_size", path));
  options.lr = number(m, "lr", path);
  options.beta1 = number(m, "beta1", path);
  options.real_label = number(m, "real_label", path);
  options.seed = unsigned_number(m, "seed", path);
  GanTrainer trainer(config, options);
  copy_checked(trainer.g_params_->values(), file, "generator.values");
  copy_checked(trainer.g_params_->buffer_values(), file, "generator.buffers");
  copy_checked(trainer.g_opt_->exp_avg(), file, "generator.exp_avg");
  copy_checked(trainer.g_opt_->exp_avg_sq(), file, "generator.exp_avg_sq");
  copy_checked(trainer.d_params_->values(), file, "discriminator.values");
  copy_checked(trainer.d_params_->buffer_values(), file, "discriminator.buffers");
  copy_checked(trainer.d_opt_->exp_avg(), file, "discriminator.exp_avg");
  copy_checked(trainer.d_opt_->exp_avg_sq(), file, "discriminator.exp_avg_sq");
  trainer.step_ = static_cast<std::int64_t>(unsigned_number(m, "step", path));
  trainer.g_opt_->set_steps(trainer.step_);
  trainer.d_opt_->set_steps(trainer.step_);
  trainer.rng_.set_state(unsigned_number(m, "rng_state", path));
  trainer.metadata_ = m;
  return trainer;
}

Tensor sample_gan(GanGenerator& generator, int latent, std::int64_t count, std::uint64_t seed) {
  CXR_CHECK(count >= 1, "GAN: cannot sample {} images", count);
  Generator rng(seed);
  Tensor z = Tensor::empty({count, latent});
  float* p = z.data<float>();
  for (std::int64_t i = 0; i < z.numel(); ++i) p[i] = static_cast<float>(rng.normal());
  NoGradGuard no_grad;
  const bool was_training = generator.training();
  generator.eval();
  Tensor images = generator.forward(z);
  generator.train(was_training);
  return images;
}

}  // namespace cxr
