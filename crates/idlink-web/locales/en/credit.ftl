## The credit report: the console's review queue.
console-nav-credit = Credit-report reviews
console-credit-title = Credit-report reviews
console-credit-intro = Requests the credit bureau holds until we review them, oldest first. Approve to release the report to the user; reject to end the request (a paid one is refunded).
console-credit-empty = No credit-report request is waiting for a review.
console-credit-request = Request
console-credit-requested = Requested
console-credit-due = Review SLA
console-credit-fee = Fee
console-credit-decision = Decision
console-credit-paid = Paid
console-credit-free = Free
console-credit-approve = Approve
console-credit-reject = Reject
console-credit-done-approved = Approved: the bureau releases the report to the user.
console-credit-done-rejected = Rejected: the request has ended and the user is told why.
console-credit-refunds-title = Refunds waiting for the cashier
console-credit-refunds-intro = Paid requests that ended without a report and whose refund the host app's cashier has not taken yet. They are asked for again automatically; if one stays here, contact the cashier.
console-credit-refunds-why = Why the request ended

## The credit report: my requests (H5).
home-menu-credit = My credit report
credit-title = My credit report
credit-request-title = Credit-report request
credit-intro = Your personal credit report from the national credit bureau: who lent you what, how you repaid, public records and who looked at your record. The bureau's data is one day old.
credit-quote-free = { $count ->
    [one] 1 free report left this year.
   *[other] { $count } free reports left this year.
}
credit-quote-fee = This year's free reports are used: the next one costs { $amount }, paid in the app.
credit-under-way = A request is under way; you can ask again once it ends.
credit-open-request = Follow it
credit-ask-title = Ask for my report
credit-ask = Ask for my report
credit-pad-hint = Your six-digit payment password confirms it is you who asks.
credit-field-password = Enter your six-digit payment password.
credit-requests-title = My requests
credit-no-requests = You have not asked for a report yet.
credit-requested-at = Asked { $time }
credit-fee-free = Free
credit-fee-due = { $amount } to pay
credit-fee-paid = { $amount } paid
credit-fee-refunded = { $amount } refunded
credit-expected = Expected by { $time }
credit-state-requested = Waiting for you to confirm who you are
credit-state-verifying = Waiting for you to confirm who you are
credit-state-fetching = The bureau is preparing your report
credit-state-in-review = The bureau is reviewing your request
credit-state-ready = Your report is ready
credit-state-rejected = Refused
credit-state-failed = Ended without a report
credit-reason-awaiting-payment = Pay the fee in the app first.
credit-reason-manual-review = The bureau asked for a manual review; we answer within the time shown.
credit-reason-bureau-unavailable = The bureau is not answering just now; we ask again by ourselves.
credit-reason-bureau-timeout = The bureau did not answer within a day. Any fee is refunded; you can ask again.
credit-reason-verification-expired = You did not confirm who you are in time. You can ask again; nothing was used.
credit-reason-verification-failed = Confirming who you are failed three times. You can ask again; nothing was used.
credit-reason-payment-expired = The fee was not paid in time. You can ask again.
credit-reason-payment-failed = The payment did not go through. You can ask again.
credit-reason-payment-unavailable = The app's payment service was unavailable; nothing was charged. Try again in a moment.
credit-reason-rejected-on-review = The review refused the request. Any fee is refunded.
credit-reason-rejected-by-bureau = The bureau refused the request. Any fee is refunded.
credit-reason-identity-mismatch = The bureau could not match your identity. Any fee is refunded.
credit-reason-report-mismatch = The bureau sent a report we could not give you. Any fee is refunded; please ask again.
credit-reason-liveness-failed = The last face check saw no live face.
credit-reason-poor-lighting = The last face check was too dark.
credit-reason-face-mismatch = The last face check did not match you.
credit-reason-review = The last face check needs a review; try again.
credit-reason-reserved-phone-mismatch = The bank has another phone for that card.
credit-reason-bank-code-wrong = The last bank code was not right.
credit-pay-in-app = This report has a fee: pay it in the app's checkout. This page opens the next step once the payment arrives.
credit-verify-title = Confirm it is you
credit-verify-intro = Use a face check, or one of your bound bank cards and the code its bank sends to the card's phone. Three failed tries end the request.
credit-face-title = By face check
credit-face-from-app = The face check is taken by the app you opened this page from.
credit-face-submit = Check my face
credit-card-title = By bank card
credit-no-cards = You have no bound card.
credit-bind-card = Bind a card
credit-card-label = Card
credit-phone-label = The card's phone number
credit-phone-hint = The mobile number the bank has for this card: the bank sends its code there.
credit-card-submit = Send me the bank's code
credit-code-title = The bank's code
credit-code-label = Code from the bank's SMS
credit-code-hint = The bank sent it to the card's phone.
credit-code-submit = Confirm
credit-field-phone = Enter the card's 11-digit mobile number.
credit-field-code = Enter the code from the bank's SMS.
credit-report-title = Your report
credit-pages = { $count ->
    [one] 1 page
   *[other] { $count } pages
}
credit-link-note = The file opens on this device only, for 24 hours, and each download is recorded.
credit-download = Download the PDF
credit-downloads = { $count ->
    [0] Not downloaded yet
    [one] Downloaded once
   *[other] Downloaded { $count } times
}
credit-back = Back to my credit report
credit-done-code-sent = The bank has sent its code to the card's phone.
credit-done-verified = Confirmed. See below where your report stands.
credit-done-link = Your download has started.
credit-problem-credit_payment_pending = Pay the fee in the app first; then confirm it is you.
credit-problem-credit_card_not_bound = Choose one of your bound cards.
credit-problem-credit_card_code_not_sent = Ask the bank for its code first.
credit-problem-bank_code_wrong = That code is not right. Check the bank's SMS and try again.
credit-problem-reserved_phone_mismatch = The bank has another phone number for this card.
credit-problem-face_check_failed = The face check did not pass. Hold the phone yourself, in good light, and try again.
credit-problem-credit_quote_changed = The price changed meanwhile. Look at the new price and ask again.
credit-problem-credit_request_under_way = A request is already under way.
credit-problem-credit_payment_unavailable = The app's payment service is unavailable; nothing was charged. Try again in { $seconds } seconds.
credit-problem-credit_report_restricted = The credit report is available from the age of 18.
credit-problem-identity_not_verified = Verify your real-name identity with a resident ID card first.
credit-problem-credit_request_not_verifying = This request does not take a verification now.
credit-problem-download_link_expired = This download link has expired. Download again from the request.
credit-problem-download_link_invalid = This download link is not valid on this device. Download again from the request.
credit-problem-credit_report_not_ready = The report is not ready yet.
credit-alerts-title = Alerts when my record changes
credit-alerts-intro = We compare your credit record every day and send you an SMS when an institution looks at it, an account goes overdue or a public record appears.
credit-alerts-off = Alerts are off.
credit-alerts-on-first = Alerts are on. The first comparison is under way.
credit-alerts-on-checked = Alerts are on; last compared { $time }.
credit-alerts-count = { $count ->
    [0] Nothing has changed since you turned them on.
    [one] 1 change announced so far.
   *[other] { $count } changes announced so far.
}
credit-alerts-turn-on = Turn alerts on
credit-alerts-turn-off = Turn alerts off
credit-done-alerts-on = Alerts are on. What is on your record now is the starting point.
credit-done-alerts-off = Alerts are off. The copy of your record we compared with is deleted.
credit-problem-credit_alert_app_not_authorised = Alerts reach only apps you have authorised.

problem-credit_report_purged = This report was deleted at the end of its retention period. Ask for a new report if you need one.
