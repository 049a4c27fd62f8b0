import ArgumentParser
import CrumbCore
import CrumbIO

/// `crumb policy`: work with policy files.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check and explain privacy policy files.",
        subcommands: [Check.self]
    )

    /// `crumb policy check FILE`: load a policy file, refuse it with FILE:LINE:COLUMN when it is invalid,
    /// else explain in plain words what it does.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check a policy file and explain what it does.",
            discussion: """
                Prints the effective policy in plain words and "policy OK: FILE (sha256 DIGEST)", where \
                DIGEST is the policy_sha256 a run with this policy records in its manifest. A policy that \
                names an unknown key, has a value of the wrong type, or contradicts itself is refused with \
                FILE:LINE:COLUMN: error: MESSAGE on standard error and exit code 64; an unreadable file \
                exits 74.
                """
        )

        @Argument(help: ArgumentHelp("The policy file (YAML).", valueName: "file"))
        var file: String

        func run() throws {
            let policy: Policy
            do {
                policy = try PolicyLoader.load(path: file)
            } catch {
                printError(error.description)
                throw error.kind == .unreadable ? ExitStatus.ioError : ExitStatus.usage
            }
            print(policy.explanation())
            print()
            print("policy OK: \(file) (sha256 \(PolicyLoader.sha256(of: policy)))")
        }
    }
}
