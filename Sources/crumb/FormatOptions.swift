import ArgumentParser
import CrumbCore
import CrumbIO

/// `--format` and `--timezone`, shared by run, scan and detect.
struct FormatOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Input format: auto (detect per input), a name from crumb formats, apache:'LOGFORMAT' or nginx:'LOG_FORMAT'.",
        valueName: "format"))
    var format: String = "auto"

    @Option(help: ArgumentHelp(
        "Time zone of the local times in call detail records: UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin. (default: the policy's, UTC)",
        valueName: "zone"))
    var timezone: String?

    func validate() throws {
        if format != "auto" {
            do {
                _ = try FormatSpec(parsing: format)
            } catch {
                throw ValidationError("--format: \(error.description)")
            }
        }
        if let timezone, LocalTimeZone(named: timezone) == nil {
            throw ValidationError("--timezone: unknown zone '\(timezone)'; use UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin")
        }
    }

    /// Applies the options to `configuration`; the policy's zone unless --timezone is given.
    func apply(to configuration: inout RunConfiguration) {
        configuration.format = format
        if let zone = LocalTimeZone(named: timezone ?? configuration.policy.callTimeZone) {
            configuration.timeZone = zone
        }
    }
}
