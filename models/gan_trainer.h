// Training a DCGAN (models/gan_net.h) with the usual stabilisers, resumable:
//
//   discriminator step  loss_D = BCE(D(x), r) + BCE(D(G(z)), 0), G frozen, r = real_label
//                       (one-sided label smoothing, Salimans et al. 2016: r = 0.9)
//   generator step      loss_G = BCE(D(G(z')), 1)  (the non-saturating loss of Goodfellow
//                       et al. 2014), with a fresh z'
//   both                Adam, lr 2e-4, beta1 0.5 (Radford et al. 2016), no weight decay
//
// Real batches are drawn with replacement from the training images, z from N(0, 1);
// all randomness comes from one Generator seeded by the options, so the same seed and
// thread count give the same weights bit for bit, and a run resumed from a
// checkpoint continues exactly as if it had not stopped.
//
// Checkpoint (one safetensors file, written atomically): tensors generator.values,
// generator.buffers, generator.exp_avg, generator.exp_avg_sq and the same four for
// the discriminator; metadata format=cxr-gan, version, the GanConfig and
// GanTrainOptions fields, step and rng_state (doubles as exact hexadecimal strings),
// plus the caller's extra keys (e.g. the dataset's manifest hash).
#pragma once

#include "engine/optim/adamw.h"
#include "engine/random.h"
#include "models/gan_net.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace cxr {

inline constexpr const char* kGanFormat = "cxr-gan";

struct GanTrainOptions {
  int batch_size = 32;
  double lr = 2e-4;
  double beta1 = 0.5;
  double real_label = 0.9;  // the discriminator's target for real images
  std::uint64_t seed = 1;   // initialisation, batches and latents
};

struct GanStepResult {
  double discriminator_loss = 0, generator_loss = 0;
  double real_score = 0, fake_score = 0;  // mean sigmoid(D) on the step's real and generated batch
};

class GanTrainer {
 public:
  GanTrainer(const GanConfig& config, const GanTrainOptions& options);
  // Resumes from a checkpoint (throws cxr::Error naming the file when it is not one).
  static GanTrainer load(const std::string& path);
  void save(const std::string& path, const std::map<std::string, std::string>& extra = {});

  // One discriminator and one generator update on a batch drawn from `images`
  // ([M, 1, S, S] in [-1, 1], S the config's image size).
  GanStepResult step(const Tensor& images);

  std::int64_t steps() const { return step_; }
  const GanConfig& config() const { return config_; }
  const GanTrainOptions& options() const { return options_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  GanGenerator& generator() { return *generator_; }
  GanDiscriminator& discriminator() { return *discriminator_; }
  ParameterSet& generator_parameters() { return *g_params_; }
  ParameterSet& discriminator_parameters() { return *d_params_; }

 private:
  Tensor latents(std::int64_t n);

  GanConfig config_;
  GanTrainOptions options_;
  std::unique_ptr<GanGenerator> generator_;
  std::unique_ptr<GanDiscriminator> discriminator_;
  std::unique_ptr<ParameterSet> g_params_, d_params_;
  std::unique_ptr<AdamW> g_opt_, d_opt_;
  Generator rng_;
  std::int64_t step_ = 0;
  std::map<std::string, std::string> metadata_;  // of the loaded file
};

// `count` images [count, 1, S, S] in [-1, 1] from the generator in evaluation mode
// (running batch-norm statistics, so an image does not depend on its batch), with
// latents drawn from a Generator seeded with `seed`.
Tensor sample_gan(GanGenerator& generator, int latent, std::int64_t count, std::uint64_t seed);

}  // namespace cxr
