const accessToken = 'YOUR_PERSONAL_ACCESS_TOKEN';
const orgId = 'YOUR_ORGANIZATION_ID';
const assetId = 'ASSET_ID_TO_DELETE';
const apiUrl = `https://go.tallyfy.com/api/organizations/${orgId}/file/${assetId}`;
const headers = new Headers();
headers.append('Authorization', `Bearer ${accessToken}`);
headers.append('Accept', 'application/json');
headers.append('X-Tallyfy-Client', 'APIClient');
fetch(apiUrl, {
method: 'DELETE',
headers: headers
})
.then(response => {
if (response.ok) {
console.log(`Deleted file ${assetId}. Status: ${response.status}`);
} else {
return response.json().then(errData => {
console.error(`Error deleting file ${assetId}:`, errData);
});
}
})
.catch(error => {
console.error(`Request failed for ${assetId}:`, error.message);
});
