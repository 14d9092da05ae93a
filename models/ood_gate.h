// The out-of-distribution gate: is this image a frontal chest X-ray like the
// training data? Asked before every prediction (cxr predict / explain, the API, the
// UI); a refused image gets no answer unless the caller insists (--force, force=true).
//
// Five scores, each larger = less like the training data:
//   mahalanobis  min over training targets c of (f - mu_c)^T P (f - mu_c), f the
//                penultimate (pooled) features, mu_c the class means of the training
//                split and P the inverse of one covariance shared by all classes
//                (Lee et al. 2018, "A Simple Unified Framework for Detecting
//                Out-of-Distribution Samples and Adversarial Attacks"), with a ridge
//                of kCovarianceRidge x the mean variance added to its diagonal so
//                dead ReLU channels (zero variance) keep it invertible
//   thumbnail    the same on the 16 x 16 thumbnail of the input (models/model_outputs.h):
//                the picture's layout, which global pooling throws away (a lateral
//                view has one lung field, not two; a gradient has none)
//   combined     max(mahalanobis / its threshold, thumbnail / its threshold): refused
//                when either looks foreign
//   energy       -logsumexp(logits) (Liu et al. 2020, "Energy-based Out-of-
//                distribution Detection"), on the raw logits (T = 1)
//   max_softmax  1 - max softmax(logits) (Hendrycks & Gimpel 2017), the baseline
// The statistics come from the TRAINING split; each score's threshold from the
// VALIDATION split only: the smallest value that accepts `accept_rate` of it (for
// combined: of the ratios, after the two thresholds it divides by). One score
// decides (chosen at fit time, combined by default: docs/evaluation.md).
//
// The gate is stored beside its model, <dir>/<stem>.ood.safetensors (written
// atomically): tensors "mahalanobis.means" [targets, features],
// "mahalanobis.precision" [features, features], "thumbnail.means" [targets, 256] and
// "thumbnail.precision" [256, 256] (float64), metadata with the
// thresholds, the deciding score, the temperature (models/temperature.h, fitted on
// the same validation split) and the SHA-256 of the model file it was fitted for.
// A missing sidecar means no gate (said by the callers); a corrupt one, or one
// fitted for another model file, is a cxr::Error.
#pragma once

#include "models/model_outputs.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cxr {

enum class OodScore { mahalanobis, thumbnail, combined, energy, max_softmax };
inline constexpr std::array kOodScores{OodScore::mahalanobis, OodScore::thumbnail, OodScore::combined, OodScore::energy,
                                       OodScore::max_softmax};
std::string ood_score_name(OodScore score);
std::optional<OodScore> parse_ood_score(const std::string& name);

inline constexpr double kCovarianceRidge = 1e-3;
inline constexpr const char* kGateFormat = "cxr-ood-gate";

// Class means and the shared precision matrix, float64.
struct MahalanobisStats {
  int classes = 0, features = 0;
  std::vector<double> means;      // row-major [classes x features]
  std::vector<double> precision;  // row-major [features x features], symmetric
};

// features: row-major [labels.size() x d]; labels in 0..classes-1, every class with at
// least one image. Throws cxr::Error otherwise.
MahalanobisStats fit_mahalanobis(std::span<const double> features, std::span<const int> labels, int classes,
                                 double ridge = kCovarianceRidge);

double mahalanobis_score(const MahalanobisStats& stats, std::span<const double> pooled);
double energy_score(std::span<const double> logits);
double max_softmax_score(std::span<const double> logits);

// The smallest threshold t with at least accept_rate of `scores` <= t (a quantile
// of the validation scores, no interpolation).
double acceptance_threshold(std::vector<double> scores, double accept_rate);

struct OodScores {
  std::array<double, kOodScores.size()> values{};  // indexed by OodScore
  double operator[](OodScore s) const { return values[static_cast<std::size_t>(s)]; }
};

// The gate's answer for one image.
struct OodVerdict {
  OodScore score = OodScore::combined;  // the deciding score
  double value = 0, threshold = 0;
  bool refused = false;  // value > threshold
  OodScores all;
};

struct OodGate {
  MahalanobisStats mahalanobis;                        // on the pooled features
  MahalanobisStats thumbnail;                          // on the input's thumbnail
  std::array<double, kOodScores.size()> thresholds{};  // indexed by OodScore
  OodScore decides = OodScore::combined;
  double accept_rate = 0.995;  // the share of validation images each threshold accepts
  double temperature = 1.0;    // temperature scaling of the probabilities (models/temperature.h)
  std::int64_t fit_images = 0, calibration_images = 0;
  std::string model_sha256;  // of the model file the gate was fitted for

  // Image i of outputs.
  OodScores scores(const ModelOutputs& outputs, std::int64_t i) const;
  OodVerdict verdict(const ModelOutputs& outputs, std::int64_t i) const;
  double threshold(OodScore s) const { return thresholds[static_cast<std::size_t>(s)]; }
};

// <dir>/<stem>.ood.safetensors for <dir>/<stem>.safetensors (any other name: + ".ood.safetensors").
std::string gate_path_for(const std::string& model_path);

void save_gate(const std::string& path, const OodGate& gate);
// Throws cxr::Error naming the file when it is not a gate or is inconsistent.
OodGate load_gate(const std::string& path);
// The gate beside `model_path`, or nothing when there is no sidecar; a cxr::Error when
// the sidecar is corrupt or was fitted for another model file.
std::optional<OodGate> load_gate_for(const std::string& model_path);

std::string file_sha256(const std::string& path);

}  // namespace cxr
