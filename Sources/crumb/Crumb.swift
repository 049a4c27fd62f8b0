import ArgumentParser
import CrumbCore
import CrumbIO
import Foundation

@main
struct Crumb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crumb",
        abstract: "Turn raw web and telephony logs into privacy-safe trend data.",
        discussion: """
            crumb reads gzip or plain logs (or standard input) in any of the formats crumb formats lists: \
            Apache and nginx access logs, W3C extended (IIS, CloudFront), AWS load balancer and S3 logs, JSON \
            beacons, and Asterisk and FreeSWITCH call detail records, detecting each input's format. It removes \
            personal information and writes hourly or daily trends (web_trends, call_trends): SQLite by \
            default, CSV and JSON Lines on request.

            Exit codes: 0 success; 64 usage or policy error; 65 input data errors over the allowed reject \
            ratio (outputs still written and marked incomplete); 74 I/O error.
            """,
        version: CrumbVersion.current,
        subcommands: [Run.self, Stream.self, Merge.self, Scan.self, Detect.self, Formats.self, PolicyCommand.self, Generate.self]
    )
}

/// Exit codes from DESIGN.md (sysexits.h values).
enum ExitStatus {
    static let usage = ExitCode(64)
    static let dataError = ExitCode(65)
    static let ioError = ExitCode(74)
}

/// Runs `body`, turning the errors of reading, writing, refusing and setting up into one line on standard
/// error and the exit status DESIGN.md gives them (74 for I/O, 64 for usage). Messages name paths and
/// settings, never log content. Other errors pass through.
func exitingOnKnownErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as InputError {
        printError("crumb: error: \(error.path): \(error.message)")
        throw ExitStatus.ioError
    } catch let error as OutputError {
        printError("crumb: error: \(error.path): \(error.message)")
        throw ExitStatus.ioError
    } catch let error as StateError {
        printError("crumb: error: \(error.description)")
        throw ExitStatus.ioError
    } catch let error as RunRefusal {
        printError("crumb: error: \(error.message)")
        throw ExitStatus.usage
    } catch let error as StreamSetupError {
        printError("crumb: error: \(error.message)")
        throw ExitStatus.usage
    } catch let error as IPAnonymizer.ConfigurationError {
        printError("crumb: error: \(error.message)")
        throw ExitStatus.usage
    }
}

/// Writes one line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
