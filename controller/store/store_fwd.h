// The store's types that the backends' private headers name in their declarations, declared
// once here so that those headers need not include the whole public store.h.
#pragma once

namespace wattfleet {

struct ActiveJob;
struct CampaignJob;
struct CampaignJobFilter;
struct CampaignSource;
struct DatasetPackage;
struct ExportRow;
struct JobResult;
struct JobSpec;
struct PackageImportOutcome;
enum class JobState;
enum class RecordOutcome;

}  // namespace wattfleet
