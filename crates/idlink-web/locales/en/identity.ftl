# idlink H5 pages — identity (en): real-name verification, documents under review, minors and guardians.
# Keys here exist in every language (a test checks).

identity-title = Real-name verification
identity-verified-heading = Your verified identity
identity-name-label = Name
identity-document-label = Document
identity-number-label = Number
identity-verified-at-label = Verified on
identity-age-label = Age
identity-age = { $age ->
    [one] { $age } year
   *[other] { $age } years
}
identity-number-start = starting { $digits },
identity-number-end = ending { $digits }
identity-minor-note = You are under 18: payments, bank card balances and the credit report need a guardian linked to your account.
identity-minor-guardians-link = Link a guardian
identity-capabilities-link = See what you can use now
identity-not-verified = You have not verified your real name yet. Verify it to use payments, bank card balances and the other services.
identity-latest-heading = Your latest verification
identity-latest-link = See its status
identity-ways = Choose how to verify
identity-ways-change = Change your real-name information
identity-change-rules = Real-name information can change at most 3 times a year per ID number, at least 90 days apart.
identity-way-face = ID card and face (name, ID number, this phone, a face check)
identity-way-card = ID card and bank card (name, ID number, a bank card in your name, this phone)
identity-way-document = Passport or travel permit (checked by our staff)

identity-doc-resident-id = Resident ID card
identity-doc-passport = Passport
identity-doc-hk-macau-permit = Hong Kong and Macau travel permit
identity-doc-taiwan-permit = Taiwan travel permit

identity-status-requires-input = Waiting for the SMS code and the face check
identity-status-processing = Being checked
identity-status-verified = Verified
identity-status-rejected = Not verified
identity-status-review = Under review by our staff

identity-face-title = Verify with your ID card and face
identity-card-title = Verify with your ID card and a bank card
identity-document-title = Verify with a passport or permit
identity-face-intro = Enter your name and ID number exactly as on the card. Next we send a code to { $phone } and check your face.
identity-card-intro = Enter your name, ID number and a bank card in your name. The bank must have { $phone } on record for the card. Next we send a code to { $phone }.
identity-document-intro = Enter the details as printed on the document. Our staff check it, usually within 72 hours. Next we send a code to { $phone } and check your face.
identity-name-input = Full name
identity-name-hint = In Chinese characters, as on the ID card
identity-name-hint-document = As printed on the document
identity-id-number-label = ID card number
identity-id-number-hint = 18 characters; the last may be X
identity-document-type-label = Document type
identity-document-number-label = Document number
identity-document-number-hint = 5 to 20 letters and digits, as printed
identity-birth-date-label = Date of birth
identity-birth-date-hint = As on the document, written year-month-day, for example 1990-05-17
identity-card-number-label = Bank card number
identity-card-number-hint = The long number on the front of the card; spaces are fine
identity-send-code = Continue and send the code
identity-back = Back to real-name verification

identity-step-title = Confirm with the code
identity-code-sent = We sent a 6-digit code to { $phone }.
identity-capture-from-app = The face check is taken by the app you opened this page from. Open real-name verification in that app to finish.
identity-capture-legend = Face check (test stand-in)
identity-capture-hint = This server uses test services: choose what the face check should answer instead of filming your face.
identity-capture-pass = A clear, live face that matches
identity-capture-spoof = A photo or screen instead of a live face
identity-capture-poor-lighting = A face in poor light
identity-capture-mismatch = A live face of someone else
identity-capture-pending = A result that needs a review by staff
identity-field-choose-capture = Choose one of the face check answers.
identity-submit = Verify

identity-outcome-verified-title = You are verified
identity-outcome-rejected-title = We could not verify you
identity-outcome-review-title = Your verification is under review
identity-outcome-open-title = This verification is not finished
identity-outcome-verified = Your real name is verified. The services that need it are now open to you.
identity-outcome-review = Our staff check it, usually within 72 hours; a passport or permit is checked by two reviewers. You can leave and come back to this page to see the result.
identity-outcome-review-rejected = Our staff could not confirm your details from the document. Check that what you entered matches the document exactly and start again, or contact support.
identity-outcome-open = It was not completed. Start again: we will send a new code.
identity-retry-helps = Fix what is described above and try again.
identity-retry-wont-help = Trying again with the same details will not help.
identity-try-again = Try again
identity-check-again = Check the status again
identity-start-again = Start again

identity-reason-id-number-mismatch = The name and ID number do not match.
identity-guidance-id-number-mismatch = Check the name and every character of the number against your ID card; they must match exactly.
identity-reason-id-number-not-found = This ID number is not on record.
identity-guidance-id-number-not-found = Check the number on your ID card digit by digit and enter it again.
identity-reason-phone-mismatch = This phone number is not registered in your name.
identity-guidance-phone-mismatch = Log in with a phone number registered under your own name, then verify again.
identity-reason-face-mismatch = The face does not match the ID card's holder.
identity-guidance-face-mismatch = Only the holder of the ID card can verify it, in person, with their own face.
identity-reason-liveness-failed = The face check did not see a live face.
identity-guidance-liveness-failed = Hold the phone yourself and look at the camera; photos, screens and masks are refused.
identity-reason-poor-lighting = The light was too poor to check your face.
identity-guidance-poor-lighting = Move to a brighter place and face the light; take off a hat, sunglasses or a mask, and avoid bright light behind you.
identity-reason-id-number-bound-elsewhere = This ID number is verified on another account.
identity-guidance-id-number-bound-elsewhere = Log in to that account and revoke the real-name verification there first, or contact support.
identity-reason-card-holder-mismatch = The bank card is not in your name.
identity-guidance-card-holder-mismatch = Use a bank card opened in your own name.
identity-reason-reserved-phone-mismatch = The bank has another phone number on record for this card.
identity-guidance-reserved-phone-mismatch = Use a card whose bank has this phone number on record, or update the number at your bank first.
identity-reason-card-reported-lost = This bank card is reported lost.
identity-guidance-card-reported-lost = Use another bank card, or verify with your ID card and face.

identity-change-limited-cooling-off = Real-name information for this ID number is in a cooling-off period. You can change it again from { $date }.
identity-change-limited-minimum-gap = The last change was less than 90 days ago. You can change it again from { $date }.
identity-change-limited-yearly-quota = This ID number was changed 3 times this year, so a 180-day cooling-off has started. You can change it again from { $date }.

identity-required-name = Enter your full name.
identity-required-id_number = Enter your ID card number.
identity-required-document_type = Choose the type of document.
identity-required-document_number = Enter the document number.
identity-required-birth_date = Enter your date of birth.
identity-required-card_number = Enter the bank card number.
identity-required-guardian_phone = Enter your guardian's mobile number.
identity-required-relationship = Choose how the guardian is related to you.
identity-required-evidence_ref = Enter the reference of the proof of the relationship.
identity-field-invalid = This is not valid. Check it and enter it again.
identity-field-invalid_name = Enter the name as on the document: Chinese characters (with · in minority names), or letters for a passport.
identity-field-invalid_id_number = This is not a valid ID card number. Check the 18 characters; only the last may be X.
identity-field-invalid_document_type = Choose one of the document types listed.
identity-field-invalid_document_number = Enter 5 to 20 letters and digits, as printed on the document.
identity-field-invalid_birth_date = Enter a past date as year-month-day, for example 1990-05-17.
identity-field-invalid_method = This way of verifying works with the resident ID card only.
identity-field-invalid_card_number = This is not a valid bank card number. Check the digits on the card.
identity-field-invalid_relationship = Choose parent or legal guardian.
identity-field-invalid_evidence_ref = Enter the reference of the proof, up to 200 characters.

identity-problem-identity_not_verified = Verify your real name first.
problem-verification_not_found = There is no such verification on your account. Start a new one from real-name verification.
problem-verification_closed = This verification is already finished. See its result, or start a new one.
problem-real_name_change_limited = Real-name information for this ID number cannot change now. Try again later.
problem-not_a_verified_minor = Only a user verified as under 18 can ask for a guardian.
problem-guardian_not_eligible = That number does not belong to an adult with a verified real name. Ask your guardian to log in and verify first, then try again.
problem-guardianship_not_found = There is no such guardian request for you.
problem-guardianship_not_pending = This request no longer waits for the guardian. See its status below.

guardians-title = Guardians
guardians-unverified = Guardian links are for users under 18 with a verified real name. Verify your real name first.
guardians-verify-link = Go to real-name verification
guardians-minor = You are under 18, so payments, bank card balances and the credit report are closed until a guardian is linked: your guardian accepts, then our staff check the proof (usually within 10 to 15 working days).
guardians-minor-guarded = Your guardian is linked and approved. Payments and balances are open; the credit report stays with your guardian until you turn 18.
guardians-adult = Guardian links are asked for by users under 18. Requests naming you as a guardian appear here.
guardians-mine-heading = My guardian requests
guardians-mine-empty = You have not asked anyone yet.
guardians-evidence-label = Proof of the relationship
guardians-evidence-hint = The reference of the household register or court order the app holds, for example hukou-2024-0001
guardians-requested-at = Asked on
guardians-ask-heading = Ask a guardian
guardians-phone-label = Guardian's mobile number
guardians-phone-hint = They must have an account with a verified real name, and be 18 or older
guardians-relationship-label = Relationship
guardians-ask-submit = Send the request
guardians-asked-heading = Requests naming you as guardian
guardians-accept = Accept and send for review
guardian-relationship-parent = Parent
guardian-relationship-legal = Legal guardian
guardian-status-pending = Waiting for the guardian to accept
guardian-status-review = Accepted; our staff are checking the proof
guardian-status-approved = Approved
guardian-status-rejected = Not approved
identity-account-phone = your account's phone
guardians-asker = Asked by { $name }
