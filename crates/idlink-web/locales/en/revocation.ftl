## Before a real-name revocation or an account cancellation (SPEC RV1; pages/revocation.rs).
home-menu-revocation = Revoke my real name or close my account
revoke-title = Revoke my real-name identity
revoke-cancel-title = Close my account
revoke-intro = Revoking your real-name identity keeps your account but lowers what it can do. Everything that stands in the way is listed below, all at once.
revoke-cancel-intro = Closing your account ends it for good. Everything that stands in the way is listed below, all at once.
revoke-choice-label = What do you want to do?
revoke-choice-revoke-real-name = Revoke my real name
revoke-choice-cancel-account = Close my account
revoke-asked = We checked: { $sources }, and idlink's own rules.
revoke-asked-none = We checked idlink's own rules (this app registers no other stores).
revoke-list-separator = {", "}
revoke-clear = Nothing stands in the way.
revoke-blockers-count = { $count ->
    [one] One thing stands in the way
   *[other] { $count } things stand in the way
}
revoke-check-again = Check again
revoke-back-home = Back to my account
revoke-amount = Amount: { $amount }
revoke-lifts-on = Lifts by itself on { $time }
revoke-retry-after = Ask again after { $time }
revoke-source-wallet = your wallet
revoke-source-lending = your loans
revoke-source-subscriptions = your subscriptions
revoke-source-directories = your organisations
revoke-source-idlink = idlink
revoke-blocker-wallet-balance = Money is left in your wallet (even 0.01 counts)
revoke-blocker-pending-transactions = Transactions are still in progress
revoke-blocker-unclaimed-red-packets = A red packet is waiting for you
revoke-blocker-active-loans = A loan is not repaid yet
revoke-blocker-auto-renew-contracts = An automatic renewal or payment is still on
revoke-blocker-directory-admin = You administer an organisation's account
revoke-blocker-abnormal-login = There was an unusual sign-in in the last { $days } days
revoke-blocker-non-primary-device = This is not your main device
revoke-blocker-recent-real-name-change = Your real-name details changed in the last { $days } days
revoke-blocker-source-unavailable = We could not check { $source } just now
revoke-action-withdraw-balance = Withdraw or spend the balance
revoke-action-wait-for-transactions = Wait until they finish
revoke-action-claim-or-return-red-packets = Accept or return the red packet
revoke-action-repay-loans = Repay the loan
revoke-action-cancel-contracts = Turn off the renewal
revoke-action-transfer-admin-role = Hand the role to someone else
revoke-action-wait-after-abnormal-login = Wait until the date above; nothing else is needed
revoke-action-use-primary-device = Open this page on your main device
revoke-action-wait-after-real-name-change = Wait until the date above; nothing else is needed
revoke-action-retry-later = Check again in a moment
revoke-problem-identity_not_verified = Your account has no verified real name to revoke. To close the account instead, choose "Close my account".
