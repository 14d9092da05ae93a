// The out-of-distribution gate: is this image a frontal chest X-ray like the
// training data? Asked before every prediction (cxr predict / explain, the API, the
// UI); a refused image gets no answer unless the caller insists (--force, force=true).
//
// Seven scores, each larger = less like the training data:
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
//   statistics   the same on the input's pixel statistics (models/image_statistics.h:
//                intensity, gradient-magnitude and local-variance histograms, their
//                shares on a log scale, log_shares): what a radiograph's pixels look
//                like, which synthetic patterns (a smooth gradient, an XOR pattern) are not
//   view         P(lateral) of a logistic probe on the features and thumbnail
//                (models/view_probe.h), fitted on training frontals and lateral views
//                (`cxr ood fit --covid`); absent (0, never refuses) without laterals
//   combined     max over the four parts (mahalanobis, thumbnail, statistics, view)
//                of score / its limit: refused when any looks foreign. The limits are
//                the parts' values at one common quantile of the validation split,
//                the lowest at which the four together still accept accept_rate of it
//                (e.g. each at 99.8 % so that all four accept 99.5 %): a rank, not a
//                ratio, so a heavy-tailed part is not loosened more than the others
//   energy       -logsumexp(logits) (Liu et al. 2020, "Energy-based Out-of-
//                distribution Detection"), on the raw logits (T = 1)
//   max_softmax  1 - max softmax(logits) (Hendrycks & Gimpel 2017), the baseline
// The statistics come from the TRAINING split; each score's threshold from the
// VALIDATION split only: the smallest value that accepts `accept_rate` of it (for
// combined: of the ratios, after the limits it divides by). One score
// decides (chosen at fit time, combined by default: docs/evaluation.md).
//
// The gate is stored beside its model, <dir>/<stem>.ood.safetensors (written
// atomically), format version 3: tensors "mahalanobis.means" [targets, features],
// "mahalanobis.precision" [features, features], "thumbnail.means" [targets, 256],
// "thumbnail.precision" [256, 256], "statistics.means" [targets, kImageStatistics],
// "statistics.precision", and with a view probe "view.mean", "view.scale",
// "view.weights" [features + 256] and "view.bias" [1] (float64), metadata with the
// thresholds, combined's limits, the deciding score, the temperature (models/temperature.h, fitted on
// the same validation split) and the SHA-256 of the model file it was fitted for.
// A missing sidecar means no gate (said by the callers); a corrupt one, or one
// fitted for another model file, is a cxr::Error. A version-1 sidecar (before the
// statistics and view scores) still loads: those two scores are 0 and never refuse,
// and combined's limits are its two parts' thresholds (as version 1 combined them).
// A version-2 sidecar (statistics on linear shares) still loads and scores them
// linearly, as it was fitted; version 3 fits and scores them as log_shares.
#pragma once

#include "models/model_outputs.h"
#include "models/view_probe.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cxr {

enum class OodScore { mahalanobis, thumbnail, statistics, view, combined, energy, max_softmax };
inline constexpr std::array kOodScores{OodScore::mahalanobis, OodScore::thumbnail, OodScore::statistics, OodScore::view,
                                       OodScore::combined,    OodScore::energy,    OodScore::max_softmax};
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

// The inverse of a symmetric positive definite matrix a [n x n] (Cholesky); throws
// cxr::Error when a is not positive definite.
std::vector<double> spd_inverse(std::vector<double> a, int n);

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
  MahalanobisStats statistics;                         // on the input's pixel statistics (empty: version 1)
  bool statistics_log_shares = true;                   // false: a version-2 sidecar's linear shares
  ViewProbe view;                                      // frontal vs lateral (empty: fitted without laterals)
  std::array<double, kOodScores.size()> thresholds{};  // indexed by OodScore
  std::array<double, kOodScores.size()> limits{1, 1, 1, 1, 1, 1, 1};  // combined's, per part (by OodScore)
  OodScore decides = OodScore::combined;
  double accept_rate = 0.995;  // the share of validation images each threshold accepts
  double temperature = 1.0;    // temperature scaling of the probabilities (models/temperature.h)
  std::int64_t fit_images = 0, calibration_images = 0;
  std::string model_sha256;  // of the model file the gate was fitted for

  // Image i of outputs.
  OodScores scores(const ModelOutputs& outputs, std::int64_t i) const;
  // The statistics rows as the statistics score reads them (log_shares or linear).
  std::vector<double> statistics_input(std::span<const double> rows) const;
  OodVerdict verdict(const ModelOutputs& outputs, std::int64_t i) const;
  double threshold(OodScore s) const { return thresholds[static_cast<std::size_t>(s)]; }
  double limit(OodScore part) const { return limits[static_cast<std::size_t>(part)]; }
  // The parts combined divides: mahalanobis, thumbnail, then statistics and view when present.
  std::vector<OodScore> parts() const;
};

// <dir>/<stem>.ood.safetensors for <dir>/<stem>.safetensors (any other name: + ".ood.safetensors").
std::string gate_path_for(const std::string& model_path);

void save_gate(const std::string& path, const OodGate& gate);
// Throws cxr::Error naming the file when it is not a gate or is inconsistent.
OodGate load_gate(const std::string& path);
// The gate beside `model_path`, or nothing when there is no sidecar; a cxr::Error when
// the sidecar is corrupt or was fitted for another model file.
std::optional<OodGate> load_gate_for(const std::string& model_path);

}  // namespace cxr
